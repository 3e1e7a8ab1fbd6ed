// The direct waveform conv against a double-precision loop, on the vector
// path (channels a multiple of 64) and the scalar one, with frame counts that
// leave partial register tiles and several parallel tasks.
#include "kernels/single_channel_conv1d.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "int8_test_util.h"

namespace quasr::kernels {
namespace {

TEST(SingleChannelConv1d, MatchesDoubleReference) {
  for (int64_t channels : {64, 128, 40}) {
    for (bool affine : {false, true}) {
      for (Activation act : {Activation::kNone, Activation::kGelu}) {
        const int64_t kernel = 10, stride = 5;
        std::vector<float> w = testing::random_vector(channels * kernel, 7 + channels, -0.5f, 0.5f);
        std::vector<float> scale = testing::random_vector(channels, 8, 0.5f, 2.0f);
        std::vector<float> bias = testing::random_vector(channels, 9);
        SingleChannelConv1d conv(channels, kernel, stride, w.data(),
                                 affine ? scale.data() : nullptr, affine ? bias.data() : nullptr,
                                 act);
        for (int64_t t_in : {9, 10, 14, 15, 47, 1003}) {
          std::vector<float> x = testing::random_vector(t_in, 10 + t_in, -1.0f, 1.0f);
          const int64_t t_out = conv.output_length(t_in);
          ASSERT_EQ(t_out, t_in < kernel ? 0 : (t_in - kernel) / stride + 1);
          std::vector<float> y(static_cast<size_t>(t_out * channels));
          conv.run(x.data(), t_in, y.data());
          for (int64_t t = 0; t < t_out; ++t) {
            for (int64_t c = 0; c < channels; ++c) {
              double v = 0.0;
              for (int64_t k = 0; k < kernel; ++k)
                v += double(x[t * stride + k]) * w[c * kernel + k];
              if (affine) v = v * scale[c] + bias[c];
              if (act == Activation::kGelu) v = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
              ASSERT_NEAR(y[t * channels + c], v, 1e-5 * (1.0 + std::fabs(v)))
                  << "channels " << channels << " t_in " << t_in << " t " << t << " c " << c;
            }
          }
        }
      }
    }
  }
}

// Every output frame reaches row_done once, finished (GELU applied), and
// what the sink writes into the row is what stays in y.
TEST(SingleChannelConv1d, HandsEachFinishedFrameToTheSink) {
  for (int64_t channels : {128, 40}) {  // vector and scalar paths
    const int64_t kernel = 10, stride = 5, t_in = 20003;
    std::vector<float> w = testing::random_vector(channels * kernel, 3, -0.5f, 0.5f);
    std::vector<float> bias = testing::random_vector(channels, 4);
    SingleChannelConv1d conv(channels, kernel, stride, w.data(), nullptr, bias.data(),
                             Activation::kGelu);
    std::vector<float> x = testing::random_vector(t_in, 5, -1.0f, 1.0f);
    const int64_t t_out = conv.output_length(t_in);
    std::vector<float> plain(static_cast<size_t>(t_out * channels)), sunk(plain.size());
    conv.run(x.data(), t_in, plain.data());
    std::vector<int> seen(static_cast<size_t>(t_out), 0);
    std::vector<float> first_value(static_cast<size_t>(t_out));
    auto sink = [&](int64_t t, float* row) {
      ++seen[static_cast<size_t>(t)];
      first_value[static_cast<size_t>(t)] = row[0];
      row[1] = -1.0f;  // a sink's in-place change stays
    };
    conv.run(x.data(), t_in, sunk.data(), RowSink(sink));
    for (int64_t t = 0; t < t_out; ++t) {
      ASSERT_EQ(seen[t], 1) << "frame " << t;
      ASSERT_EQ(first_value[t], plain[t * channels]) << "frame " << t;
      ASSERT_EQ(sunk[t * channels + 1], -1.0f);
      for (int64_t c = 2; c < channels; ++c)
        ASSERT_EQ(sunk[t * channels + c], plain[t * channels + c]);
    }
  }
}

}  // namespace
}  // namespace quasr::kernels
