// The bf16x3 fp32 Linear against a double-precision product: every output
// within the split's error bound (a few 2^-16 of Σ|x·w|, where a plain bf16
// product is off by ~2^-8 of it), bias and GELU applied, strided rows, tails
// of rows and columns, and both ways the threads share the work. Skipped
// where AMX-BF16 is not usable.
#include "kernels/amx_bf16x3_linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace quasr::kernels {
namespace {

struct Case {
  int64_t m, k, n, x_stride, y_stride;
};

double gelu(double v) {
  return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
}

TEST(AmxBf16x3Linear, ShapesItCovers) {
  EXPECT_TRUE(AmxBf16x3Linear::supports(1024, 4096));
  EXPECT_TRUE(AmxBf16x3Linear::supports(1000, 32));  // n padded to whole panels
  EXPECT_FALSE(AmxBf16x3Linear::supports(64, 48));   // k not a multiple of 32
  EXPECT_FALSE(AmxBf16x3Linear::supports(0, 64));
}

void check_case(const Case& c, Activation activation, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(c.m * c.x_stride), w(c.n * c.k), bias(c.n);
  for (float& v : x) v = normal(rng);
  for (float& v : w) v = 0.05f * normal(rng);
  for (float& v : bias) v = normal(rng);
  const float kUnwritten = -12345.0f;
  std::vector<float> y(c.m * c.y_stride, kUnwritten);
  AmxBf16x3Linear linear(w.data(), bias.data(), c.n, c.k, activation);
  linear.run(x.data(), c.m, c.x_stride, y.data(), c.y_stride);
  double worst = 0.0;  // error / bound
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      double sum = bias[j], magnitude = std::abs(bias[j]);
      for (int64_t l = 0; l < c.k; ++l) {
        const double product = double{x[i * c.x_stride + l]} * w[j * c.k + l];
        sum += product;
        magnitude += std::abs(product);
      }
      const double expected = activation == Activation::kGelu ? gelu(sum) : sum;
      const double bound = 4.0 * std::ldexp(magnitude, -16) + 1e-6 * std::abs(expected);
      worst = std::max(worst, std::abs(y[i * c.y_stride + j] - expected) / bound);
    }
    for (int64_t j = c.n; j < c.y_stride; ++j)
      ASSERT_EQ(y[i * c.y_stride + j], kUnwritten) << "row " << i << " column " << j;
  }
  EXPECT_LE(worst, 1.0) << "m " << c.m << " k " << c.k << " n " << c.n;
  // Far inside the bound, not at its edge: the typical error is ~2^-17 of Σ|x·w|.
  EXPECT_GT(worst, 0.0);
}

TEST(AmxBf16x3Linear, MatchesDoubleWithinTheSplitsBound) {
  if (!AmxBf16x3Linear::available()) GTEST_SKIP() << "AMX-BF16 not usable here";
  // One row; tails of 17 and 6 rows; 1000 columns (a partial last panel);
  // products big enough for two threads sharing panels (40 rows) or splitting
  // the rows (200: 13 groups of 16); strides beyond k and n; rows that go
  // through in several chunks of packed tiles (k = 4096: 64 rows a chunk).
  const Case cases[] = {{1, 32, 32, 32, 32},          {17, 64, 40, 70, 41},
                        {40, 1024, 1000, 1024, 1000}, {38, 96, 7, 96, 9},
                        {200, 256, 96, 300, 100},     {150, 1024, 64, 1024, 64},
                        {200, 4096, 40, 4096, 40}};
  std::mt19937 rng(5);
  for (const Case& c : cases) check_case(c, Activation::kNone, rng);
  check_case({70, 128, 100, 128, 100}, Activation::kGelu, rng);
  // k in slices of 1024 and a last one of 32: bias and GELU once, at the end.
  check_case({70, 2080, 100, 2080, 100}, Activation::kGelu, rng);
}

TEST(AmxBf16x3Linear, CloserThanOneBf16Product) {
  if (!AmxBf16x3Linear::available()) GTEST_SKIP() << "AMX-BF16 not usable here";
  // x = 1 + 2^-12 and w = 1 + 2^-12 lose their low bits in one bf16 (7-bit
  // mantissa); the split keeps them: 32 products of (1 + 2^-12)^2.
  const int64_t k = 32;
  const float v = 1.0f + std::ldexp(1.0f, -12);
  std::vector<float> x(k, v), w(k, v);
  float y = 0.0f;
  AmxBf16x3Linear linear(w.data(), nullptr, 1, k, Activation::kNone);
  linear.run(x.data(), 1, &y);
  const double expected = 32.0 * double{v} * v;
  EXPECT_NEAR(y, expected, 32.0 * std::ldexp(1.0, -20));
  EXPECT_GT(std::abs(32.0 - expected), 32.0 * std::ldexp(1.0, -12));  // what bf16 alone gives
}

}  // namespace
}  // namespace quasr::kernels
