#include "kernels/int8/int8_conv1d.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "int8_test_util.h"
#include "kernels/int8/reference.h"

namespace quasr::kernels {
namespace {

TEST(StaticInt8Conv1d, MatchesReference) {
  const Conv1dShape shapes[] = {
      {5, 7, 3, 2, 0, 1},       // plain strided
      {1, 16, 10, 5, 0, 1},     // wav2vec2's first layer, scaled down
      {1, 128, 10, 5, 0, 1},    // ... with channels for the vector path
      {8, 12, 4, 1, 2, 4},      // grouped and padded (positional conv)
      {16, 16, 8, 1, 4, 16},    // depthwise, even kernel, padded
      {32, 32, 16, 1, 8, 2},    // positional conv scaled down (im2col GEMM per group)
      {12, 12, 6, 2, 3, 3},     // grouped and strided
      {64, 64, 3, 2, 0, 1},     // the extractor's convs scaled down (AMX: overlapping rows)
      {32, 32, 2, 2, 0, 1},     // ... kernel 2
      {128, 128, 16, 1, 8, 2},  // groups of 64 channels (AMX: group-major rows)
      {256, 64, 5, 1, 2, 2},    // groups of 128 in, 32 out, odd kernel
  };
  for (const Conv1dShape& s : shapes) {
    const int64_t cols = s.in_channels / s.groups * s.kernel;
    std::vector<float> wf =
        testing::random_vector(s.out_channels * cols, 31 + s.kernel, -0.4f, 0.4f);
    std::vector<float> bias = testing::random_vector(s.out_channels, 32);
    Int8Weights w = Int8Weights::quantize(wf.data(), s.out_channels, cols, true);
    // 1200: several frame blocks of the GEMM paths.
    for (int64_t t_in : {10, 11, 40, 150, 1200}) {
      if (s.output_length(t_in) <= 0) continue;
      std::vector<float> x = testing::random_vector(t_in * s.in_channels, 33 + t_in, -1.0f, 2.0f);
      for (quant::QuantParams input :
           {quant::QuantParams{2.0f / 255, 0}, quant::QuantParams{3.0f / 255, 85}}) {
        for (Activation act : {Activation::kNone, Activation::kGelu}) {
          StaticInt8Conv1d conv(s, w, bias.data(), act, input);
          const int64_t t_out = s.output_length(t_in);
          std::vector<float> y(t_out * s.out_channels), expected(y.size());
          conv.run(x.data(), t_in, y.data());
          int8_ref::static_conv1d(x.data(), t_in, s, conv.input_params(), conv.input_range(), w,
                                  bias.data(), act, expected.data());
          for (size_t i = 0; i < y.size(); ++i) {
            int64_t oc = static_cast<int64_t>(i) % s.out_channels;
            float sum = 0.0f;
            for (int64_t l = 0; l < cols; ++l) sum += std::fabs(float(w.data()[oc * cols + l]));
            float magnitude = 4.0f * w.scale(oc) * sum + std::fabs(bias[oc]);
            ASSERT_NEAR(y[i], expected[i], testing::int8_tolerance(magnitude))
                << "cin " << s.in_channels << " k " << s.kernel << " groups " << s.groups
                << " t_in " << t_in << " zp " << input.zero_point << " @" << i << " "
                << conv.implementation(t_in);
          }
        }
      }
    }
  }
}

TEST(DynamicInt8Conv1d, MatchesReference) {
  const Conv1dShape shapes[] = {{5, 7, 3, 2, 0, 1},
                                {8, 12, 4, 1, 2, 4},
                                {1, 16, 10, 5, 0, 1},
                                {32, 32, 16, 1, 8, 2},
                                {128, 128, 16, 1, 8, 2}};
  for (const Conv1dShape& s : shapes) {
    const int64_t cols = s.in_channels / s.groups * s.kernel;
    std::vector<float> wf = testing::random_vector(s.out_channels * cols, 51 + s.kernel);
    std::vector<float> bias = testing::random_vector(s.out_channels, 52);
    for (bool per_channel : {true, false}) {
      Int8Weights w = Int8Weights::quantize(wf.data(), s.out_channels, cols, per_channel);
      for (Activation act : {Activation::kNone, Activation::kGelu}) {
        DynamicInt8Conv1d conv(s, w, bias.data(), act);
        for (int64_t t_in : {10, 37, 150}) {
          std::vector<float> x =
              testing::random_vector(t_in * s.in_channels, 53 + t_in, -0.5f, 2.0f);
          const int64_t t_out = s.output_length(t_in);
          std::vector<float> y(t_out * s.out_channels), expected(y.size());
          conv.run(x.data(), t_in, y.data());
          float lo, hi;
          quant::min_max(x.data(), static_cast<int64_t>(x.size()), &lo, &hi);
          quant::QuantParams p = quant::choose_dynamic_fbgemm(lo, hi, conv.activation_range());
          int8_ref::static_conv1d(x.data(), t_in, s, p, conv.activation_range(), w, bias.data(),
                                  act, expected.data());
          for (size_t i = 0; i < y.size(); ++i) {
            int64_t oc = static_cast<int64_t>(i) % s.out_channels;
            float sum = 0.0f;
            for (int64_t l = 0; l < cols; ++l) sum += std::fabs(float(w.data()[oc * cols + l]));
            float magnitude = 4.0f * w.scale(oc) * sum + std::fabs(bias[oc]);
            ASSERT_NEAR(y[i], expected[i], testing::int8_tolerance(magnitude))
                << "k " << s.kernel << " groups " << s.groups << " t_in " << t_in << " @" << i
                << " " << conv.implementation(t_in);
          }
        }
      }
    }
  }
}

// The extractor's chaining: frames quantized by the producer, each output
// frame handed to row_done once, final, and equal to run()'s.
TEST(StaticInt8Conv1d, RunQuantizedHandsFinishedFrames) {
  if (isa_level() == IsaLevel::kRef) GTEST_SKIP() << "the reference path takes float input only";
  for (const Conv1dShape& s : {Conv1dShape{64, 64, 3, 2, 0, 1}, Conv1dShape{5, 7, 3, 2, 0, 1}}) {
    const int64_t cols = s.in_channels * s.kernel, t_in = 1200, t_out = s.output_length(t_in);
    std::vector<float> wf = testing::random_vector(s.out_channels * cols, 41, -0.4f, 0.4f);
    std::vector<float> bias = testing::random_vector(s.out_channels, 42);
    std::vector<float> x = testing::random_vector(t_in * s.in_channels, 43, -1.0f, 2.0f);
    Int8Weights w = Int8Weights::quantize(wf.data(), s.out_channels, cols, true);
    StaticInt8Conv1d conv(s, w, bias.data(), Activation::kGelu, quant::QuantParams{3.0f / 255, 85});
    ASSERT_TRUE(conv.takes_quantized_rows()) << conv.implementation(t_in);
    std::vector<uint8_t> q(t_in * s.in_channels);
    for (int64_t t = 0; t < t_in; ++t)
      conv.quantize_row(x.data() + t * s.in_channels, q.data() + t * s.in_channels);
    std::vector<float> expected(t_out * s.out_channels), y(expected.size()), seen(y.size());
    std::vector<int> calls(t_out, 0);
    conv.run(x.data(), t_in, expected.data());
    auto row_done = [&](int64_t t, float* row) {
      ++calls[t];
      std::copy(row, row + s.out_channels, seen.begin() + t * s.out_channels);
    };
    conv.run_quantized(q.data(), t_in, y.data(), row_done);
    EXPECT_EQ(y, expected) << conv.implementation(t_in);
    EXPECT_EQ(seen, expected) << conv.implementation(t_in);
    EXPECT_EQ(calls, std::vector<int>(t_out, 1));
    // No output array: the frames reach row_done all the same (from the
    // kernel's own buffer), once each.
    ASSERT_TRUE(conv.rows_without_output());
    std::fill(seen.begin(), seen.end(), 0.0f);
    std::fill(calls.begin(), calls.end(), 0);
    conv.run_quantized(q.data(), t_in, nullptr, row_done);
    EXPECT_EQ(seen, expected) << conv.implementation(t_in);
    EXPECT_EQ(calls, std::vector<int>(t_out, 1));
  }
}

TEST(StaticInt8Conv1d, WaveformConvHandsFramesWithoutOutputArray) {
  if (isa_level() == IsaLevel::kRef) GTEST_SKIP() << "the reference path needs an output array";
  const Conv1dShape s{1, 64, 10, 5, 0, 1};
  const int64_t t_in = 4000, t_out = s.output_length(t_in);
  std::vector<float> wf = testing::random_vector(s.out_channels * s.kernel, 51, -0.4f, 0.4f);
  std::vector<float> x = testing::random_vector(t_in, 52, -1.0f, 1.0f);
  Int8Weights w = Int8Weights::quantize(wf.data(), s.out_channels, s.kernel, true);
  StaticInt8Conv1d conv(s, w, nullptr, Activation::kGelu,
                        quant::choose_asymmetric(-1.0f, 1.0f, quant::u8_range(false)));
  ASSERT_TRUE(conv.rows_without_output()) << conv.implementation(t_in);
  std::vector<float> expected(t_out * s.out_channels), seen(expected.size());
  std::vector<int> calls(t_out, 0);
  conv.run(x.data(), t_in, expected.data());
  conv.run(x.data(), t_in, nullptr, [&](int64_t t, float* row) {
    ++calls[t];
    std::copy(row, row + s.out_channels, seen.begin() + t * s.out_channels);
  });
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(calls, std::vector<int>(t_out, 1));
  // Without a row_done there is nowhere for the frames to go.
  EXPECT_THROW(conv.run(x.data(), t_in, nullptr), Error);
}

TEST(StaticInt8Conv1d, CloseToFp32) {
  const Conv1dShape s{8, 12, 4, 1, 2, 4};
  const int64_t cols = s.in_channels / s.groups * s.kernel, t_in = 50;
  std::vector<float> wf = testing::random_vector(s.out_channels * cols, 41, -0.4f, 0.4f);
  std::vector<float> x = testing::random_vector(t_in * s.in_channels, 42, -1.0f, 1.0f);
  Int8Weights w = Int8Weights::quantize(wf.data(), s.out_channels, cols, true);
  StaticInt8Conv1d conv(s, w, nullptr, Activation::kNone,
                        quant::choose_asymmetric(-1.0f, 1.0f, quant::u8_range(false)));
  PackedConv1dF32 fp32(s, wf.data(), nullptr, Activation::kNone);
  const int64_t t_out = s.output_length(t_in);
  std::vector<float> y(t_out * s.out_channels), exact(y.size());
  conv.run(x.data(), t_in, y.data());
  fp32.run(x.data(), t_in, exact.data());
  double err = 0.0, ref = 0.0;
  for (size_t i = 0; i < y.size(); ++i) {
    err += (y[i] - exact[i]) * (y[i] - exact[i]);
    ref += exact[i] * exact[i];
  }
  EXPECT_GT(10.0 * std::log10(ref / err), 30.0);
}

TEST(StaticInt8Conv1d, WrongWeightShapeIsAnError) {
  const Conv1dShape s{8, 12, 4, 1, 2, 4};
  std::vector<float> wf(12 * 9, 0.1f);
  Int8Weights w = Int8Weights::quantize(wf.data(), 12, 9, true);
  EXPECT_THROW(StaticInt8Conv1d(s, w, nullptr, Activation::kNone, {0.01f, 0}), Error);
}

}  // namespace
}  // namespace quasr::kernels
