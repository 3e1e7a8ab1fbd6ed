// DynamicInt8Linear / StaticInt8Linear against the scalar reference on odd
// shapes, and against fp32 for plausibility. Under QUASR_ISA=ref the classes
// run the reference themselves, and the comparisons hold trivially.
#include "kernels/int8/int8_linear.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "int8_test_util.h"
#include "kernels/int8/reference.h"

namespace quasr::kernels {
namespace {

struct Shape {
  int64_t m, k, n;
};
// Shapes with k a multiple of 64 go to quasr's AMX kernel where the CPU has
// it: n = 48 and 1000 (a CTC head's vocabulary) end in a partial panel.
const Shape kShapes[] = {{1, 5, 5},     {7, 63, 17},   {33, 130, 64},  {2, 1, 3},
                         {16, 64, 48},  {9, 257, 33},  {40, 1024, 20}, {1, 64, 32},
                         {33, 128, 64}, {70, 192, 96}, {37, 128, 1000}};

// |terms| of one output, to bound float rounding: sx sw (Σ q |w| + zp Σ |w|) + |b|.
std::vector<float> magnitudes(const float* x, int64_t m, int64_t k, const Int8Weights& w,
                              const float* bias, float x_abs_max) {
  std::vector<float> out(static_cast<size_t>(m * w.rows()));
  for (int64_t j = 0; j < w.rows(); ++j) {
    float sum = 0.0f;
    for (int64_t l = 0; l < k; ++l) sum += std::fabs(float(w.data()[j * k + l]));
    for (int64_t i = 0; i < m; ++i) {
      // Up to 2·max|x| per unit weight: the zero-point term and the product.
      out[i * w.rows() + j] = 2.0f * x_abs_max * w.scale(j) * sum + (bias ? std::fabs(bias[j]) : 0);
    }
  }
  (void)x;
  return out;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& expected,
                  const std::vector<float>& magnitude, const std::string& what) {
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], expected[i], testing::int8_tolerance(magnitude[i])) << what << " @" << i;
  }
}

TEST(DynamicInt8Linear, MatchesReferenceOnOddShapes) {
  for (const Shape& s : kShapes) {
    std::vector<float> x = testing::random_vector(s.m * s.k, 1 + s.k, -2.0f, 3.0f);
    std::vector<float> wf = testing::random_vector(s.n * s.k, 2 + s.n, -0.3f, 0.3f);
    std::vector<float> bias = testing::random_vector(s.n, 3);
    for (bool per_channel : {true, false}) {
      Int8Weights w = Int8Weights::quantize(wf.data(), s.n, s.k, per_channel);
      for (ActivationGranularity g :
           {ActivationGranularity::kPerRow, ActivationGranularity::kPerTensor}) {
        for (Activation act : {Activation::kNone, Activation::kGelu}) {
          for (bool with_bias : {true, false}) {
            DynamicInt8Options options;
            options.granularity = g;
            const float* b = with_bias ? bias.data() : nullptr;
            DynamicInt8Linear fc(w, b, act, options);
            std::vector<float> y(s.m * s.n), expected(s.m * s.n);
            fc.run(x.data(), s.m, y.data());
            int8_ref::dynamic_linear(x.data(), s.m, s.k, g == ActivationGranularity::kPerRow,
                                     fc.activation_range(), w, b, act, expected.data(), s.n);
            std::ostringstream what;
            what << "m" << s.m << " k" << s.k << " n" << s.n << " per_channel " << per_channel
                 << " per_row " << (g == ActivationGranularity::kPerRow) << " gelu "
                 << (act == Activation::kGelu) << " " << fc.implementation(s.m);
            expect_close(y, expected, magnitudes(x.data(), s.m, s.k, w, b, 3.0f), what.str());
          }
        }
      }
    }
  }
}

TEST(DynamicInt8Linear, LongInputRunsInRowBlocks) {
  // More than two 256-row blocks plus a tail; per-tensor parameters must come
  // from the whole input, not from each block. (k, n) = (64, 32) is a shape
  // of the AMX kernel.
  const int64_t m = 600;
  for (auto [k, n] : {std::pair<int64_t, int64_t>{33, 17}, {64, 32}}) {
    std::vector<float> x = testing::random_vector(m * k, 61, -1.0f, 1.0f);
    x[599 * k + 3] = 9.0f;  // the tensor maximum sits in the last block
    std::vector<float> wf = testing::random_vector(n * k, 62);
    Int8Weights w = Int8Weights::quantize(wf.data(), n, k, true);
    for (ActivationGranularity g :
         {ActivationGranularity::kPerRow, ActivationGranularity::kPerTensor}) {
      DynamicInt8Options options;
      options.granularity = g;
      DynamicInt8Linear fc(w, nullptr, Activation::kNone, options);
      std::vector<float> y(m * n), expected(m * n);
      fc.run(x.data(), m, y.data());
      int8_ref::dynamic_linear(x.data(), m, k, g == ActivationGranularity::kPerRow,
                               fc.activation_range(), w, nullptr, Activation::kNone,
                               expected.data(), n);
      expect_close(y, expected, magnitudes(x.data(), m, k, w, nullptr, 9.0f),
                   "row blocks k " + std::to_string(k) + " " + fc.implementation(m));
    }
  }
}

TEST(DynamicInt8Linear, StridedInputAndOutput) {
  const int64_t m = 6;
  for (auto [k, n] : {std::pair<int64_t, int64_t>{19, 11}, {64, 32}}) {
    const int64_t x_stride = k + 5, y_stride = n + 5;
    std::vector<float> x = testing::random_vector(m * x_stride, 5);
    std::vector<float> wf = testing::random_vector(n * k, 6);
    Int8Weights w = Int8Weights::quantize(wf.data(), n, k, true);
    DynamicInt8Linear fc(w, nullptr, Activation::kNone);
    std::vector<float> y(m * y_stride, -7.0f), expected(m * n);
    fc.run(x.data(), m, x_stride, y.data(), y_stride);
    int8_ref::dynamic_linear(x.data(), m, x_stride, true, fc.activation_range(), w, nullptr,
                             Activation::kNone, expected.data(), n);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        ASSERT_NEAR(y[i * y_stride + j], expected[i * n + j], 1e-4f) << fc.implementation(m);
      }
      for (int64_t j = n; j < y_stride; ++j) ASSERT_EQ(y[i * y_stride + j], -7.0f);  // untouched
    }
  }
}

// Rows quantized one at a time by the producer, then multiplied: the same
// output as run(), and each row reaches row_done once, already final.
TEST(DynamicInt8Linear, RunQuantizedHandsFinishedRows) {
  const int64_t m = 45;
  for (auto [k, n] : {std::pair<int64_t, int64_t>{19, 11}, {128, 64}}) {
    std::vector<float> x = testing::random_vector(m * k, 71, -2.0f, 2.0f);
    std::vector<float> wf = testing::random_vector(n * k, 72);
    std::vector<float> bias = testing::random_vector(n, 73);
    Int8Weights w = Int8Weights::quantize(wf.data(), n, k, true);
    DynamicInt8Linear fc(w, bias.data(), Activation::kGelu);
    std::vector<uint8_t> q(m * k);
    std::vector<quant::QuantParams> params(m);
    for (int64_t i = 0; i < m; ++i) fc.quantize_row(x.data() + i * k, q.data() + i * k, &params[i]);
    std::vector<float> expected(m * n), y(m * n), seen(m * n, 0.0f);
    std::vector<int> calls(m, 0);
    fc.run(x.data(), m, expected.data());
    auto row_done = [&](int64_t i, float* row) {
      ++calls[i];
      std::copy(row, row + n, seen.begin() + i * n);
    };
    fc.run_quantized(q.data(), params.data(), m, y.data(), n, row_done);
    EXPECT_EQ(y, expected) << fc.implementation(m);
    EXPECT_EQ(seen, expected) << fc.implementation(m);
    EXPECT_EQ(calls, std::vector<int>(m, 1));
  }
}

TEST(DynamicInt8Linear, CloseToFp32) {
  // Per-row 8-bit activations and per-channel weights: the int8 result is
  // within a few percent of the fp32 product's spread.
  const int64_t m = 20, k = 256, n = 32;
  std::vector<float> x = testing::random_vector(m * k, 8);
  std::vector<float> wf = testing::random_vector(n * k, 9, -0.1f, 0.1f);
  Int8Weights w = Int8Weights::quantize(wf.data(), n, k, true);
  DynamicInt8Linear fc(w, nullptr, Activation::kNone);
  std::vector<float> y(m * n);
  fc.run(x.data(), m, y.data());
  double err = 0.0, ref = 0.0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double exact = 0.0;
      for (int64_t l = 0; l < k; ++l) exact += double(x[i * k + l]) * wf[j * k + l];
      err += (y[i * n + j] - exact) * (y[i * n + j] - exact);
      ref += exact * exact;
    }
  }
  double sqnr_db = 10.0 * std::log10(ref / err);
  EXPECT_GT(sqnr_db, 30.0);
}

TEST(DynamicInt8Linear, ZeroRowsIsANoOp) {
  const float wf[] = {1.0f, 2.0f};
  Int8Weights w = Int8Weights::quantize(wf, 1, 2, true);
  DynamicInt8Linear fc(w, nullptr, Activation::kNone);
  fc.run(nullptr, 0, nullptr);
}

TEST(StaticInt8Linear, MatchesReferenceOnOddShapes) {
  for (const Shape& s : kShapes) {
    std::vector<float> x = testing::random_vector(s.m * s.k, 21 + s.k, -1.0f, 2.5f);
    std::vector<float> wf = testing::random_vector(s.n * s.k, 22 + s.n, -0.3f, 0.3f);
    std::vector<float> bias = testing::random_vector(s.n, 23);
    Int8Weights w = Int8Weights::quantize(wf.data(), s.n, s.k, true);
    for (quant::QuantParams input :
         {quant::QuantParams{2.5f / 255, 0}, quant::QuantParams{3.5f / 255, 73}}) {
      for (Activation act : {Activation::kNone, Activation::kGelu}) {
        StaticInt8Linear fc(w, bias.data(), act, input);
        std::vector<float> y(s.m * s.n), expected(s.m * s.n);
        fc.run(x.data(), s.m, y.data());
        int8_ref::static_linear(x.data(), s.m, s.k, fc.input_params(), fc.input_range(), w,
                                bias.data(), act, expected.data(), s.n);
        std::ostringstream what;
        what << "m" << s.m << " k" << s.k << " n" << s.n << " zp " << input.zero_point << " gelu "
             << (act == Activation::kGelu) << " " << fc.implementation(s.m);
        expect_close(y, expected, magnitudes(x.data(), s.m, s.k, w, bias.data(), 3.5f), what.str());
      }
    }
  }
}

TEST(StaticInt8Linear, QuantizedInputMatchesFloatInput) {
  const int64_t m = 9, k = 70, n = 21;
  std::vector<float> x = testing::random_vector(m * k, 71, -1.0f, 2.0f);
  std::vector<float> wf = testing::random_vector(n * k, 72);
  Int8Weights w = Int8Weights::quantize(wf.data(), n, k, true);
  StaticInt8Linear fc(w, nullptr, Activation::kNone, {3.0f / 255, 85});
  std::vector<uint8_t> q(m * k);
  quant::quantize_u8(x.data(), m * k, fc.input_params(), fc.input_range(), q.data());
  std::vector<float> from_float(m * n), from_u8(m * n);
  fc.run(x.data(), m, from_float.data());
  fc.run(q.data(), m, k, from_u8.data(), n);
  EXPECT_EQ(from_float, from_u8);
}

TEST(StaticInt8Linear, QuantizedOutputChainsIntoNextLayer) {
  // fc1 (GELU) writes u8 in fc2's input parameters; fc2 reads them directly.
  const int64_t m = 13, k = 48, hidden = 40, n = 11;
  std::vector<float> x = testing::random_vector(m * k, 81, -1.0f, 1.0f);
  std::vector<float> w1 = testing::random_vector(hidden * k, 82, -0.2f, 0.2f);
  std::vector<float> w2 = testing::random_vector(n * hidden, 83, -0.2f, 0.2f);
  std::vector<float> b1 = testing::random_vector(hidden, 84);
  Int8Weights q1 = Int8Weights::quantize(w1.data(), hidden, k, true);
  Int8Weights q2 = Int8Weights::quantize(w2.data(), n, hidden, true);
  StaticInt8Linear fc1(q1, b1.data(), Activation::kGelu, {2.0f / 255, 128});
  StaticInt8Linear fc2(q2, nullptr, Activation::kNone, {2.2f / 255, 20});
  EXPECT_THROW(fc1.run(x.data(), m, k, static_cast<uint8_t*>(nullptr), hidden), Error);
  fc1.enable_quantized_output(fc2.input_params(), fc2.input_range());
  std::vector<uint8_t> h_q(m * hidden);
  fc1.run(x.data(), m, k, h_q.data(), hidden);
  // Against quantizing fc1's float output: at most one step apart (the two
  // round after differently ordered float operations), and mostly equal.
  std::vector<float> h(m * hidden);
  fc1.run(x.data(), m, h.data());
  std::vector<uint8_t> expected(m * hidden);
  quant::quantize_u8(h.data(), m * hidden, fc2.input_params(), fc2.input_range(), expected.data());
  int64_t exact = 0;
  for (int64_t i = 0; i < m * hidden; ++i) {
    ASSERT_LE(std::abs(int(h_q[i]) - int(expected[i])), 1) << i;
    exact += h_q[i] == expected[i];
  }
  EXPECT_GE(exact, m * hidden * 95 / 100);
  std::vector<float> y_chained(m * n), y_float(m * n);
  fc2.run(h_q.data(), m, hidden, y_chained.data(), n);
  fc2.run(h.data(), m, y_float.data());
  float step = fc2.input_params().scale * 0.2f * hidden;  // one input step on every product
  for (int64_t i = 0; i < m * n; ++i) ASSERT_NEAR(y_chained[i], y_float[i], step);
  // And u8 in, u8 out.
  std::vector<uint8_t> h_q2(m * hidden);
  std::vector<uint8_t> x_q(m * k);
  quant::quantize_u8(x.data(), m * k, fc1.input_params(), fc1.input_range(), x_q.data());
  fc1.run(x_q.data(), m, k, h_q2.data(), hidden);
  EXPECT_EQ(h_q, h_q2);
}

TEST(StaticInt8Linear, BadInputParamsAreErrors) {
  const float wf[] = {1.0f, 2.0f};
  Int8Weights w = Int8Weights::quantize(wf, 1, 2, true);
  EXPECT_THROW(StaticInt8Linear(w, nullptr, Activation::kNone, {0.0f, 0}), Error);
  EXPECT_THROW(StaticInt8Linear(w, nullptr, Activation::kNone, {0.1f, 200}, quant::u8_range(true)),
               Error);
}

}  // namespace
}  // namespace quasr::kernels
