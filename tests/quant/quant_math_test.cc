#include "quant/quant_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"

namespace quasr::quant {
namespace {

TEST(QuantRanges, FullAndReduced) {
  EXPECT_EQ(u8_range(false).qmin, 0);
  EXPECT_EQ(u8_range(false).qmax, 255);
  EXPECT_EQ(u8_range(true).qmax, 127);
  EXPECT_EQ(s8_range(false).qmin, -128);
  EXPECT_EQ(s8_range(true).qmin, -64);
  EXPECT_EQ(s8_range(true).qmax, 63);
}

TEST(ChooseAsymmetric, HandComputed) {
  // scale = 4 / 255, zero point = -round(-1 / scale) = round(63.75) = 64.
  QuantParams p = choose_asymmetric(-1.0f, 3.0f, u8_range(false));
  EXPECT_FLOAT_EQ(p.scale, 4.0f / 255.0f);
  EXPECT_EQ(p.zero_point, 64);
  // A range above 0 is extended down to 0: scale = 2 / 127, zero point 0.
  p = choose_asymmetric(0.5f, 2.0f, u8_range(true));
  EXPECT_FLOAT_EQ(p.scale, 2.0f / 127.0f);
  EXPECT_EQ(p.zero_point, 0);
  // A range below 0 is extended up to 0: zero point at qmax.
  p = choose_asymmetric(-2.0f, -1.0f, u8_range(false));
  EXPECT_FLOAT_EQ(p.scale, 2.0f / 255.0f);
  EXPECT_EQ(p.zero_point, 255);
  // An all-zero range gets the smallest scale, not zero.
  p = choose_asymmetric(0.0f, 0.0f, u8_range(false));
  EXPECT_EQ(p.scale, kMinScale);
  EXPECT_EQ(p.zero_point, 0);
}

TEST(ChooseSymmetric, HandComputed) {
  QuantParams p = choose_symmetric(-2.0f, 1.0f, s8_range(false));
  EXPECT_FLOAT_EQ(p.scale, 2.0f / 127.5f);
  EXPECT_EQ(p.zero_point, 0);
  p = choose_symmetric(-1.0f, 3.0f, u8_range(false));
  EXPECT_FLOAT_EQ(p.scale, 3.0f / 127.5f);
  EXPECT_EQ(p.zero_point, 128);
  p = choose_symmetric(-1.0f, 3.0f, u8_range(true));
  EXPECT_FLOAT_EQ(p.scale, 3.0f / 63.5f);
  EXPECT_EQ(p.zero_point, 63);
}

TEST(ChooseDynamicFbgemm, HandComputed) {
  // Both candidate zero points are 63.75; the one from min has the smaller
  // error term, so round(63.75) = 64.
  QuantParams p = choose_dynamic_fbgemm(-1.0f, 3.0f, u8_range(false));
  EXPECT_EQ(p.scale, static_cast<float>(4.0 / 255.0));
  EXPECT_EQ(p.zero_point, 64);
  p = choose_dynamic_fbgemm(-1.0f, 3.0f, u8_range(true));
  EXPECT_EQ(p.scale, static_cast<float>(4.0 / 127.0));
  EXPECT_EQ(p.zero_point, 32);
  // All zeros: scale 0.1 (fbgemm's fallback), zero point 0.
  p = choose_dynamic_fbgemm(0.0f, 0.0f, u8_range(true));
  EXPECT_EQ(p.scale, 0.1f);
  EXPECT_EQ(p.zero_point, 0);
  // Tiny ranges are widened to the 6.1e-5 scale threshold.
  p = choose_dynamic_fbgemm(0.0f, 1e-3f, u8_range(false));
  EXPECT_EQ(p.scale, 6.1e-5f);
  EXPECT_EQ(p.zero_point, 0);
}

TEST(Quantize, RoundsHalfToEvenAndClamps) {
  QuantParams p{1.0f, 0};
  const float x[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 300.0f, -300.0f, NAN};
  int8_t q[8];
  quantize_s8(x, 8, p, s8_range(false), q);
  const int8_t expected[] = {0, 2, 2, 0, -2, 127, -128, -128};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(q[i], expected[i]) << i;
  uint8_t u[3];
  const float y[] = {-1.0f, 0.0f, 200.0f};
  quantize_u8(y, 3, QuantParams{1.0f, 10}, u8_range(true), u);
  EXPECT_EQ(u[0], 9);
  EXPECT_EQ(u[1], 10);
  EXPECT_EQ(u[2], 127);
}

TEST(Quantize, RoundTripWithinHalfLsb) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-3.0f, 5.0f);
  std::vector<float> x(10000), back(x.size());
  for (float& v : x) v = dist(rng);
  for (bool reduce : {false, true}) {
    QuantRange range = u8_range(reduce);
    QuantParams p = choose_asymmetric(-3.0f, 5.0f, range);
    std::vector<uint8_t> q(x.size());
    quantize_u8(x.data(), static_cast<int64_t>(x.size()), p, range, q.data());
    dequantize_u8(q.data(), static_cast<int64_t>(q.size()), p, back.data());
    // The grid is shifted by the integer zero point, so the ends of the range
    // may lie up to half a step outside it, and are clamped there.
    for (size_t i = 0; i < x.size(); ++i) {
      float lo = dequantize_value(range.qmin, p), hi = dequantize_value(range.qmax, p);
      if (x[i] < lo || x[i] > hi) continue;
      ASSERT_LE(std::fabs(back[i] - x[i]), 0.5f * p.scale * (1.0f + 1e-5f)) << x[i];
    }
  }
  QuantParams s = choose_symmetric(-3.0f, 5.0f, s8_range(false));
  std::vector<int8_t> q(x.size());
  quantize_s8(x.data(), static_cast<int64_t>(x.size()), s, s8_range(false), q.data());
  dequantize_s8(q.data(), static_cast<int64_t>(q.size()), s, back.data());
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_LE(std::fabs(back[i] - x[i]), 0.5f * s.scale * (1.0f + 1e-5f)) << x[i];
  }
}

TEST(QuantizeWeights, PerTensorHandComputed) {
  const float w[] = {1.0f, -2.0f, 0.5f, 4.0f};
  QuantizedMatrix m = quantize_weights_per_tensor(w, 2, 2);
  ASSERT_EQ(m.scales.size(), 1u);
  EXPECT_FALSE(m.per_channel);
  EXPECT_FLOAT_EQ(m.scales[0], 4.0f / 127.5f);
  // 31.875 -> 32, -63.75 -> -64, 15.94 -> 16, 127.5 -> clamped to 127.
  const int8_t expected[] = {32, -64, 16, 127};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(m.data[i], expected[i]) << i;
}

TEST(QuantizeWeights, PerChannelHandComputed) {
  const float w[] = {-1.0f, 4.0f, 0.5f, -0.25f};
  QuantizedMatrix m = quantize_weights_per_channel(w, 2, 2);
  ASSERT_EQ(m.scales.size(), 2u);
  EXPECT_TRUE(m.per_channel);
  EXPECT_FLOAT_EQ(m.scales[0], 4.0f / 127.5f);
  EXPECT_FLOAT_EQ(m.scales[1], 0.5f / 127.5f);
  const int8_t expected[] = {-32, 127, 127, -64};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(m.data[i], expected[i]) << i;
}

TEST(QuantizeWeights, RoundTripWithinHalfLsbPerChannel) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  const int64_t rows = 17, cols = 33;
  std::vector<float> w(rows * cols);
  for (float& v : w) v = dist(rng);
  QuantizedMatrix m = quantize_weights_per_channel(w.data(), rows, cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      float back = m.scales[r] * m.data[r * cols + c];
      ASSERT_LE(std::fabs(back - w[r * cols + c]), 0.5f * m.scales[r] * (1.0f + 1e-5f));
    }
  }
}

TEST(QuantizeWeights, EmptyMatrixIsAnError) {
  EXPECT_THROW(quantize_weights_per_channel(nullptr, 0, 4), Error);
}

TEST(MinMax, IgnoresNan) {
  const float x[] = {NAN, 2.0f, -1.0f, NAN};
  float lo, hi;
  min_max(x, 4, &lo, &hi);
  EXPECT_EQ(lo, -1.0f);
  EXPECT_EQ(hi, 2.0f);
}

}  // namespace
}  // namespace quasr::quant
