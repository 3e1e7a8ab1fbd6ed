// The vectorised exp / GELU / softmax against double-precision references.
// Run at the CPU's level and (via the isa_ref. prefix) on the scalar path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/cpu_features.h"
#include "kernels/elementwise.h"
#include "kernels/vector_math_avx2.h"
#include "kernels/vector_math_avx512.h"

namespace quasr::kernels {
namespace {

double gelu_reference(double x) {
  return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
}

// Dense sweep of [-14, 14] (GELU underflows to denormals below about -13.2).
std::vector<float> gelu_inputs() {
  std::vector<float> x;
  for (double v = -14.0; v <= 14.0; v += 1.0 / 1024) x.push_back(static_cast<float>(v));
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-8f, -1e-8f, 50.0f, 1e4f}) x.push_back(v);
  return x;
}

TEST(VectorMath, GeluWithinOneMillionthRelativeBothSigns) {
  std::vector<float> x = gelu_inputs();
  std::vector<float> y = x;
  gelu_erf(y.data(), static_cast<int64_t>(y.size()));
  double worst = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    double want = gelu_reference(x[i]);
    if (std::fabs(want) < 1e-37) {
      EXPECT_LE(std::fabs(y[i]), 1e-37) << "x=" << x[i];
      continue;
    }
    double relative = std::fabs(y[i] - want) / std::fabs(want);
    worst = std::max(worst, relative);
    ASSERT_LT(relative, 1e-6) << "x=" << x[i] << " got " << y[i] << " want " << want;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.3g", worst);
  RecordProperty("worst_relative_error", text);
}

TEST(VectorMath, LayerNormGeluEqualsLayerNormThenGelu) {
  const int64_t rows = 5, cols = 37;
  std::vector<float> x(rows * cols), gamma(cols), beta(cols);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37 * i) * 3.0f + 0.1f * (i % 7);
  for (int64_t c = 0; c < cols; ++c) gamma[c] = 0.5f + 0.03f * c, beta[c] = -0.2f + 0.01f * c;
  std::vector<float> fused(x.size()), split(x.size());
  layer_norm_gelu_rows(x.data(), rows, cols, gamma.data(), beta.data(), 1e-5f, fused.data());
  layer_norm_rows(x.data(), rows, cols, gamma.data(), beta.data(), 1e-5f, split.data());
  gelu_erf(split.data(), rows * cols);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(fused[i], split[i]) << i;
}

// exp_16: avx512_exp_16 or avx2_exp_8 twice.
void check_exp(void (*exp_16)(const float*, float*)) {
  std::vector<float> x;
  for (double v = -87.0; v <= 88.0; v += 1.0 / 64) x.push_back(static_cast<float>(v));
  for (size_t i = 0; i < x.size(); i += 16) {
    float in[16] = {}, out[16];
    for (size_t j = 0; j < 16 && i + j < x.size(); ++j) in[j] = x[i + j];
    exp_16(in, out);
    for (size_t j = 0; j < 16 && i + j < x.size(); ++j) {
      double want = std::exp(static_cast<double>(in[j]));
      ASSERT_LT(std::fabs(out[j] - want) / want, 3e-7) << "x=" << in[j];
    }
  }
  float edges[16] = {-200.0f, -104.0f, 89.0f, 200.0f, -INFINITY, INFINITY, -87.5f, -100.0f};
  float out[16];
  exp_16(edges, out);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_TRUE(std::isinf(out[2]));
  EXPECT_TRUE(std::isinf(out[3]));
  EXPECT_EQ(out[4], 0.0f);
  EXPECT_TRUE(std::isinf(out[5]));
  // Subnormal results, rounded once: e^-87.5 = 9.9e-39, e^-100 = 3.7e-44.
  EXPECT_NEAR(out[6], std::exp(-87.5), 2e-45);
  EXPECT_NEAR(out[7], std::exp(-100.0), 2e-45);
}

TEST(VectorMath, ExpRelativeErrorBelowThreeTenMillionths) {
  if (isa_level() < IsaLevel::kAvx512) GTEST_SKIP() << "no AVX-512 on this CPU";
  check_exp(avx512_exp_16);
}

TEST(VectorMath, Avx2ExpRelativeErrorBelowThreeTenMillionths) {
  if (isa_level() < IsaLevel::kAvx2) GTEST_SKIP() << "no AVX2 on this CPU (or QUASR_ISA=ref)";
  check_exp([](const float* in, float* out) {
    avx2_exp_8(in, out);
    avx2_exp_8(in + 8, out + 8);
  });
}

TEST(VectorMath, SoftmaxPrefixMatchesDoubleAndZeroesMaskedKeys) {
  for (int64_t valid : {1, 15, 16, 17, 100, 257}) {
    const int64_t ld = valid + 9, rows = 3;
    std::vector<float> x(rows * ld);
    for (size_t i = 0; i < x.size(); ++i) x[i] = 12.0f * std::cos(0.71 * i);
    std::vector<float> y = x;
    softmax_rows_prefix(y.data(), rows, valid, ld);
    for (int64_t r = 0; r < rows; ++r) {
      const float* in = x.data() + r * ld;
      double top = *std::max_element(in, in + valid), sum = 0.0;
      for (int64_t c = 0; c < valid; ++c) sum += std::exp(in[c] - top);
      for (int64_t c = 0; c < valid; ++c) {
        double want = std::exp(in[c] - top) / sum;
        ASSERT_NEAR(y[r * ld + c], want, 1e-6 * want + 1e-12) << valid << " " << c;
      }
      for (int64_t c = valid; c < ld; ++c) ASSERT_EQ(y[r * ld + c], 0.0f);
    }
  }
}

TEST(VectorMath, LogSoftmaxMatchesDouble) {
  const int64_t rows = 4, cols = 45;
  std::vector<float> x(rows * cols);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 20.0f * std::sin(1.3 * i) - 5.0f;
  std::vector<float> y = x;
  log_softmax_rows(y.data(), rows, cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x.data() + r * cols;
    double top = *std::max_element(in, in + cols), sum = 0.0;
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(in[c] - top);
    for (int64_t c = 0; c < cols; ++c)
      ASSERT_NEAR(y[r * cols + c], in[c] - top - std::log(sum), 1e-5) << r << " " << c;
  }
}

// Nearest bfloat16, ties to even, by integer arithmetic on the bits (finite x).
uint16_t bf16_reference(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void to_bf16_both(
    const std::vector<float>& x, std::vector<uint16_t>& native, std::vector<uint16_t>& emulated) {
  native.assign(x.size(), 0);
  emulated.assign(x.size(), 0);
  avx512::to_bf16_n(x.data(), static_cast<int64_t>(x.size()), native.data());
  for (size_t i = 0; i + 16 <= x.size(); i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(emulated.data() + i),
                        avx512::to_bf16(_mm512_loadu_ps(x.data() + i)));
  }
}

TEST(VectorMath, Bf16ConversionsRoundToNearestEven) {
  if (isa_level() < IsaLevel::kAvx512 || !__builtin_cpu_supports("avx512bf16"))
    GTEST_SKIP() << "needs AVX512_BF16";
  std::vector<float> x;
  // Exact ties (low half 0x8000) with even and odd kept bits, and their neighbours.
  for (uint32_t high : {0x3F80u, 0x3F81u, 0xBF80u, 0xBF81u, 0x4B7Fu, 0x0081u}) {
    for (uint32_t low : {0x7FFFu, 0x8000u, 0x8001u, 0x0000u, 0xFFFFu}) {
      const uint32_t bits = high << 16 | low;
      float v;
      std::memcpy(&v, &bits, sizeof v);
      x.push_back(v);
    }
  }
  for (int i = -1000; i < 1000; ++i) x.push_back(std::ldexp(1.0f + i * 0.000733f, i % 120));
  x.push_back(0.0f);
  x.push_back(-0.0f);
  while (x.size() % 16) x.push_back(1.0f);
  std::vector<uint16_t> native, emulated;
  to_bf16_both(x, native, emulated);
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(native[i], bf16_reference(x[i])) << "x=" << x[i];
    ASSERT_EQ(emulated[i], bf16_reference(x[i])) << "x=" << x[i];
  }
}

TEST(VectorMath, ChannelAffineLeakyReluWithinRoundingOfDouble) {
  const int64_t rows = 5, cols = 37;  // 37: two full vectors and a masked tail
  std::vector<float> x(rows * cols), scale(cols), shift(cols);
  for (int64_t i = 0; i < rows * cols; ++i) x[i] = std::sin(0.37f * i) * 3.0f;
  for (int64_t c = 0; c < cols; ++c) {
    scale[c] = 0.5f + 0.03f * c;
    shift[c] = std::cos(0.5f * c);
  }
  std::vector<float> y = x;
  channel_affine_leaky_relu(y.data(), rows, cols, scale.data(), shift.data(), 0.01f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const double v = double(x[r * cols + c]) * scale[c] + shift[c];
      const double want = v >= 0.0 ? v : v * 0.01;
      ASSERT_NEAR(y[r * cols + c], want, 4e-7 * (1.0 + std::fabs(want)))
          << "row " << r << " col " << c;
    }
  }
}

}  // namespace
}  // namespace quasr::kernels
