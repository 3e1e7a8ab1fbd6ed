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

}  // namespace
}  // namespace quasr::kernels
