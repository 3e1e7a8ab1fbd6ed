// quasr's AVX2 fp32 Linear against the same arithmetic done one output at a
// time: FMAs in k order within each 256-value slice, the slices' sums added
// in order, then the bias: the same bits (no activation), and GELU within
// its polynomial's error. Strided and overlapping rows (a conv's windows),
// tails of rows below the micro-kernel's 6 and of the 120-row chunk, k over
// several slices and ending mid-slice, and both ways the threads share the
// work. Skipped where the CPU has no AVX2.
#include "kernels/avx2_f32_linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/dnnl_runtime.h"

namespace quasr::kernels {
namespace {

struct Case {
  int64_t m, k, n, x_stride, y_stride;
};

constexpr int64_t kSlice = 256;

// Σ_l x[l] w[l] in the kernel's order.
float kernel_order_sum(const float* x, const float* w, int64_t k) {
  float total = 0.0f;
  for (int64_t l0 = 0; l0 < k; l0 += kSlice) {
    float slice = 0.0f;
    for (int64_t l = l0; l < std::min(k, l0 + kSlice); ++l) slice = std::fma(x[l], w[l], slice);
    total = l0 == 0 ? slice : total + slice;
  }
  return total;
}

void check_case(const Case& c, Activation activation, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t x_size = (c.m - 1) * c.x_stride + c.k;
  std::vector<float> x(x_size), w(c.n * c.k), bias(c.n);
  for (float& v : x) v = normal(rng);
  for (float& v : w) v = 0.05f * normal(rng);
  for (float& v : bias) v = normal(rng);
  const float kUnwritten = -12345.0f;
  std::vector<float> y(c.m * c.y_stride, kUnwritten);
  Avx2F32Linear linear(w.data(), bias.data(), c.n, c.k, activation);
  linear.run(x.data(), c.m, c.x_stride, y.data(), c.y_stride);
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      const float sum = kernel_order_sum(x.data() + i * c.x_stride, w.data() + j * c.k, c.k);
      const float pre = sum + bias[j];
      const float got = y[i * c.y_stride + j];
      if (activation == Activation::kNone) {
        ASSERT_EQ(got, pre) << "m " << c.m << " k " << c.k << " n " << c.n << " at " << i << ", "
                            << j;
      } else {
        const double expected = 0.5 * pre * (1.0 + std::erf(pre / std::sqrt(2.0)));
        ASSERT_NEAR(got, expected, 2e-6 * std::abs(expected) + 1e-7)
            << "m " << c.m << " k " << c.k << " n " << c.n << " at " << i << ", " << j;
      }
    }
    for (int64_t j = c.n; j < c.y_stride; ++j)
      ASSERT_EQ(y[i * c.y_stride + j], kUnwritten) << "row " << i << " column " << j;
  }
}

TEST(Avx2F32Linear, ShapesItCovers) {
  EXPECT_TRUE(Avx2F32Linear::supports(1024, 4096));
  EXPECT_TRUE(Avx2F32Linear::supports(16, 3));
  EXPECT_FALSE(Avx2F32Linear::supports(40, 64));  // n not a multiple of 16
  EXPECT_FALSE(Avx2F32Linear::supports(0, 64));
}

TEST(Avx2F32Linear, KernelOrderSumsBiasAndGelu) {
  if (!Avx2F32Linear::available()) GTEST_SKIP() << "no AVX2";
  set_num_threads(2);
  const std::vector<Case> cases = {{1, 1, 16, 1, 16},
                                   {5, 7, 16, 9, 20},
                                   {7, 256, 48, 256, 48},
                                   {13, 257, 32, 260, 40},
                                   {40, 600, 64, 600, 64},
                                   {121, 300, 16, 300, 16},
                                   {300, 1024, 64, 1024, 80},
                                   // A conv's windows: rows 2 x 32 values apart, 3 x 32 long.
                                   {50, 96, 32, 64, 32},
                                   {1, 4096, 1024, 4096, 1024}};
  std::mt19937 rng(5);
  for (const Case& c : cases) {
    check_case(c, Activation::kNone, rng);
    check_case(c, Activation::kGelu, rng);
  }
}

}  // namespace
}  // namespace quasr::kernels
