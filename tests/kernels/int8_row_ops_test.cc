// The vectorised row quantizer and epilogue against their scalar versions,
// on every ISA level this CPU has, with tails of every length.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "int8_test_util.h"
#include "kernels/elementwise.h"
#include "kernels/int8/epilogue.h"
#include "kernels/int8/row_quantize.h"

namespace quasr::kernels {
namespace {

using int8_detail::EpilogueRow;

std::vector<IsaLevel> levels_here() {
  std::vector<IsaLevel> levels{IsaLevel::kRef};
  for (IsaLevel l : {IsaLevel::kAvx2, IsaLevel::kAvx512, IsaLevel::kAvx512Vnni}) {
    if (l <= isa_level()) levels.push_back(l);
  }
  return levels;
}

TEST(Int8RowOps, QuantizeRowIdenticalOnEveryIsa) {
  // Lengths cover the AVX-512 path's 64-value blocks and its 16-value tail.
  for (int64_t k : {1, 7, 8, 15, 16, 17, 33, 64, 100, 129, 1024}) {
    std::vector<float> x = testing::random_vector(k, 11 + k, -40.0f, 100.0f);
    // Exact ties at scale 0.5: x * 2 = odd integer + 0.5 ... plus NaN and huge,
    // in the first block and (where there is one) in the second.
    for (int64_t at : {int64_t{0}, int64_t{70}}) {
      if (k <= at + 4) continue;
      x[at] = 0.25f;
      x[at + 1] = 0.75f;
      x[at + 2] = NAN;
      x[at + 3] = 1e30f;
      x[at + 4] = -1e30f;
    }
    for (bool reduce : {false, true}) {
      quant::QuantRange range = quant::u8_range(reduce);
      const float inv = 2.0f;
      std::vector<uint8_t> expected(k);
      for (int64_t i = 0; i < k; ++i) {
        expected[i] = static_cast<uint8_t>(quant::quantize_value(x[i], inv, 60, range));
      }
      for (IsaLevel isa : levels_here()) {
        std::vector<uint8_t> q(k + 1, 0xAB);
        int8_detail::quantize_row_u8(x.data(), k, inv, 60, range, q.data(), isa);
        for (int64_t i = 0; i < k; ++i) {
          ASSERT_EQ(q[i], expected[i]) << "k " << k << " i " << i << " isa " << isa_name(isa);
        }
        EXPECT_EQ(q[k], 0xAB) << "wrote past the row, isa " << isa_name(isa);
      }
    }
    if (k > 3) {
      EXPECT_EQ(quant::quantize_value(0.25f, 2.0f, 60, quant::u8_range(false)), 60);  // 60.5 -> 60
      EXPECT_EQ(quant::quantize_value(0.75f, 2.0f, 60, quant::u8_range(false)), 62);  // 61.5 -> 62
    }
  }
}

// A row quantized with parameters from its own min and max, as the dynamic
// linears do: the clamp-free path gives the clamped path's bytes, values at
// both ends of the range (which round one step outside it) included.
TEST(Int8RowOps, OwnRangeQuantizeIdenticalOnEveryIsa) {
  for (int64_t k : {1, 15, 16, 17, 64, 100, 129, 1024, 4096}) {
    for (uint32_t seed : {1u, 2u, 3u}) {
      std::vector<float> x = testing::random_vector(k, seed * 97 + k, -3.0f, 7.0f);
      if (seed == 2)  // all one sign, a range fbgemm widens below its smallest scale
        for (float& v : x) v = std::fabs(v) * 1e-6f;
      if (seed == 3 && k > 2) x[k / 2] = NAN;  // ignored by the min and max, quantized to 0
      for (bool reduce : {false, true}) {
        const quant::QuantRange range = quant::u8_range(reduce);
        float lo, hi;
        int8_detail::row_min_max(x.data(), k, &lo, &hi, IsaLevel::kRef);
        const quant::QuantParams p = quant::choose_dynamic_fbgemm(lo, hi, range);
        const float inv = quant::inverse_scale(p.scale);
        std::vector<uint8_t> expected(k);
        int8_detail::quantize_row_u8(x.data(), k, inv, p.zero_point, range, expected.data(),
                                     IsaLevel::kRef);
        for (IsaLevel isa : levels_here()) {
          std::vector<uint8_t> q(k + 1, 0xAB);
          int8_detail::quantize_own_range_row_u8(x.data(), k, inv, p.zero_point, range, q.data(),
                                                 isa);
          for (int64_t i = 0; i < k; ++i)
            ASSERT_EQ(q[i], expected[i])
                << "k " << k << " seed " << seed << " i " << i << " isa " << isa_name(isa);
          EXPECT_EQ(q[k], 0xAB) << "wrote past the row, isa " << isa_name(isa);
        }
        // The row's largest value maps to the top of the range (where fbgemm
        // does not widen it), the one that rounds one step past it.
        if (seed != 2 && k > 1) {
          EXPECT_EQ(*std::max_element(expected.begin(), expected.end()), range.qmax);
        }
      }
    }
  }
}

TEST(Int8RowOps, MinMaxIdenticalOnEveryIsa) {
  for (int64_t k : {1, 5, 16, 31, 64, 77}) {
    std::vector<float> x = testing::random_vector(k, 5 + k, -2.0f, 9.0f);
    if (k > 2) x[k / 2] = NAN;
    float lo, hi;
    quant::min_max(x.data(), k, &lo, &hi);
    for (IsaLevel isa : levels_here()) {
      float a, b;
      int8_detail::row_min_max(x.data(), k, &a, &b, isa);
      EXPECT_EQ(a, lo) << isa_name(isa);
      EXPECT_EQ(b, hi) << isa_name(isa);
    }
  }
}

EpilogueRow epilogue_of(float x_scale, int32_t x_zero_point, const std::vector<float>& w_scales,
                        const std::vector<int32_t>& w_sums, const std::vector<float>& bias,
                        Activation activation) {
  EpilogueRow p;
  p.x_scale = x_scale;
  p.x_zero_point = x_zero_point;
  p.w_scales = w_scales.data();
  p.w_sums = w_sums.data();
  p.bias = bias.data();
  p.activation = activation;
  return p;
}

float as_float(int32_t bits) {
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

TEST(Int8RowOps, EpilogueMatchesScalarOnEveryIsa) {
  for (int64_t n : {1, 5, 8, 16, 17, 40}) {
    std::vector<float> scales = testing::random_vector(n, 3, 0.001f, 0.01f);
    std::vector<float> bias = testing::random_vector(n, 4);
    std::vector<int32_t> sums(n), acc(n);
    for (int64_t j = 0; j < n; ++j) {
      sums[j] = static_cast<int32_t>(j * 37 % 200) - 100;
      acc[j] = static_cast<int32_t>(j * 7919 % 20000) - 9000;
    }
    for (Activation act : {Activation::kNone, Activation::kGelu}) {
      const EpilogueRow p = epilogue_of(0.05f, 17, scales, sums, bias, act);
      std::vector<float> expected(n);
      for (int64_t j = 0; j < n; ++j) {
        float v = float(acc[j] - 17 * sums[j]) * (0.05f * scales[j]) + bias[j];
        expected[j] =
            act == Activation::kGelu ? 0.5f * v * (1.0f + std::erf(v / std::sqrt(2.0f))) : v;
      }
      for (IsaLevel isa : levels_here()) {
        std::vector<int32_t> row = acc;
        int8_detail::dequantize_row_in_place(row.data(), n, p, isa);
        for (int64_t j = 0; j < n; ++j) {
          ASSERT_NEAR(as_float(row[j]), expected[j],
                      testing::int8_tolerance(std::fabs(expected[j])))
              << "n " << n << " j " << j << " isa " << isa_name(isa);
        }
      }
    }
  }
}

// Without GELU every ISA gives the scalar path's bits: the product rounded,
// then the bias added (a fused multiply-add would round once and differ in
// about half of these values; the dequantize loop once compiled to one).
TEST(Int8RowOps, EpilogueWithoutGeluIsBitExactOnEveryIsa) {
  const int64_t n = 200;
  std::vector<float> scales = testing::random_vector(n, 5, 0.001f, 0.01f);
  std::vector<float> bias = testing::random_vector(n, 6);
  std::vector<int32_t> sums(n), acc(n);
  for (int64_t j = 0; j < n; ++j) {
    sums[j] = static_cast<int32_t>(j * 53 % 300) - 150;
    acc[j] = static_cast<int32_t>(j * 104729 % 2000003) - 1000000;
  }
  const EpilogueRow p = epilogue_of(0.0371f, 131, scales, sums, bias, Activation::kNone);
  std::vector<float> expected(n);
  for (int64_t j = 0; j < n; ++j) {
    volatile float product = float(acc[j] - 131 * sums[j]) * (0.0371f * scales[j]);
    expected[j] = product + bias[j];
  }
  for (IsaLevel isa : levels_here()) {
    std::vector<int32_t> row = acc;
    int8_detail::dequantize_row_in_place(row.data(), n, p, isa);
    for (int64_t j = 0; j < n; ++j)
      ASSERT_EQ(as_float(row[j]), expected[j]) << "j " << j << " isa " << isa_name(isa);
  }
}

// The block kernels' 32-column block epilogue gives dequantize_row's bits, row by
// row, with each row's own activation parameters (or one set for all).
TEST(Int8RowOps, BlockEpilogueMatchesRowEpilogue) {
  const int64_t n = 64, rows = 7, y_stride = 70;
  std::vector<float> scales = testing::random_vector(n, 7, 0.001f, 0.01f);
  std::vector<float> bias = testing::random_vector(n, 8);
  std::vector<int32_t> sums(n), acc(rows * 32);
  for (int64_t j = 0; j < n; ++j) sums[j] = static_cast<int32_t>(j * 61 % 400) - 200;
  for (int64_t i = 0; i < rows * 32; ++i) acc[i] = static_cast<int32_t>(i * 7907 % 60001) - 30000;
  std::vector<quant::QuantParams> params(rows);
  for (int64_t r = 0; r < rows; ++r) params[r] = {0.01f + 0.003f * r, static_cast<int32_t>(9 * r)};
  const int64_t col0 = 32;  // the second block of columns
  for (Activation act : {Activation::kNone, Activation::kGelu}) {
    for (bool with_bias : {true, false}) {
      for (int64_t step : {1, 0}) {
        EpilogueRow columns = epilogue_of(0, 0, scales, sums, bias, act);
        columns.w_scales += col0;
        columns.w_sums += col0;
        columns.bias = with_bias ? bias.data() + col0 : nullptr;
        for (IsaLevel isa : levels_here()) {
          std::vector<float> y(rows * y_stride, -5.0f);
          int8_detail::dequantize_block(acc.data(), rows, 32, params.data(), step, columns,
                                        y.data(), y_stride, isa);
          for (int64_t r = 0; r < rows; ++r) {
            EpilogueRow row = columns;
            row.x_scale = params[r * step].scale;
            row.x_zero_point = params[r * step].zero_point;
            std::vector<float> expected(32);
            int8_detail::dequantize_row(acc.data() + r * 32, expected.data(), 32, row, isa);
            for (int64_t c = 0; c < 32; ++c)
              ASSERT_EQ(y[r * y_stride + c], expected[c])
                  << "row " << r << " col " << c << " isa " << isa_name(isa);
            for (int64_t c = 32; c < y_stride; ++c) ASSERT_EQ(y[r * y_stride + c], -5.0f);
          }
        }
      }
    }
  }
}

TEST(Int8RowOps, VectorGeluMatchesErfGelu) {
  std::vector<float> x;
  for (int i = -2000; i <= 2000; ++i) x.push_back(i * 0.005f);
  x.push_back(-30.0f);
  x.push_back(30.0f);
  for (IsaLevel isa : levels_here()) {
    std::vector<float> y = x;
    gelu_erf_row(y.data(), static_cast<int64_t>(y.size()), isa);
    for (size_t i = 0; i < x.size(); ++i) {
      double v = x[i];
      double expected = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
      ASSERT_NEAR(y[i], expected, 3e-7 * (1.0 + std::fabs(v))) << x[i] << " " << isa_name(isa);
    }
  }
}

}  // namespace
}  // namespace quasr::kernels
