// The AVX-512 grouped conv against a double-precision loop: group widths
// that fill 1-4 vectors exactly or partly, kernels longer and shorter than
// one tap chunk, frame counts that leave partial register tiles and several
// parallel tasks, with and without bias and GELU.
#include "kernels/grouped_conv1d_f32.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/cpu_features.h"
#include "int8_test_util.h"

namespace quasr::kernels {
namespace {

struct Case {
  int64_t channels, groups, kernel, padding;
};

double reference(const std::vector<float>& x, const std::vector<float>& w, const float* bias,
                 const Conv1dShape& s, int64_t t_in, int64_t t, int64_t out) {
  const int64_t cig = s.in_channels / s.groups, cog = s.out_channels / s.groups;
  const int64_t g = out / cog;
  double v = bias ? bias[out] : 0.0;
  for (int64_t c = 0; c < cig; ++c) {
    for (int64_t k = 0; k < s.kernel; ++k) {
      const int64_t src = t + k - s.padding;
      if (src < 0 || src >= t_in) continue;
      v += double(x[src * s.in_channels + g * cig + c]) * w[(out * cig + c) * s.kernel + k];
    }
  }
  return v;
}

TEST(GroupedConv1dF32, MatchesDoubleReference) {
  if (isa_level() < IsaLevel::kAvx512) GTEST_SKIP() << "needs AVX-512";
  const Case cases[] = {{32, 4, 8, 4}, {96, 2, 16, 8}, {128, 2, 3, 1},
                        {40, 2, 7, 3}, {24, 8, 5, 0},  {192, 4, 128, 64}};
  for (const Case& c : cases) {
    Conv1dShape s;
    s.in_channels = s.out_channels = c.channels;
    s.groups = c.groups;
    s.kernel = c.kernel;
    s.padding = c.padding;
    ASSERT_TRUE(GroupedConv1dF32::supports(s));
    const int64_t cig = c.channels / c.groups;
    std::vector<float> w =
        testing::random_vector(c.channels * cig * c.kernel, 3 + c.kernel, -0.3f, 0.3f);
    std::vector<float> bias = testing::random_vector(c.channels, 4);
    for (bool with_bias : {true, false}) {
      for (Activation act : {Activation::kNone, Activation::kGelu}) {
        const float* b = with_bias ? bias.data() : nullptr;
        GroupedConv1dF32 conv(s, w.data(), b, act);
        for (int64_t t_in : {1, 5, 13, 300}) {
          std::vector<float> x = testing::random_vector(t_in * c.channels, 5 + t_in, -1.0f, 1.0f);
          const int64_t t_out = s.output_length(t_in);
          std::vector<float> y(static_cast<size_t>(t_out * c.channels), NAN);
          conv.run(x.data(), t_in, y.data());
          for (int64_t t = 0; t < t_out; ++t) {
            for (int64_t o = 0; o < c.channels; ++o) {
              double v = reference(x, w, b, s, t_in, t, o);
              if (act == Activation::kGelu) v = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
              // Sums of up to cig * kernel terms of |x w| <= 0.3.
              const double tolerance = 2e-6 * (1.0 + 0.3 * cig * c.kernel);
              ASSERT_NEAR(y[t * c.channels + o], v, tolerance)
                  << "channels " << c.channels << " groups " << c.groups << " kernel " << c.kernel
                  << " t_in " << t_in << " frame " << t << " out " << o;
            }
          }
        }
      }
    }
  }
}

TEST(GroupedConv1dF32, ShapesItDoesNotSupport) {
  Conv1dShape s;
  s.in_channels = s.out_channels = 256;
  s.kernel = 3;
  s.groups = 2;  // 128 outputs per group: more than four vectors
  EXPECT_FALSE(GroupedConv1dF32::supports(s));
  s.groups = 4;
  s.stride = 2;
  EXPECT_FALSE(GroupedConv1dF32::supports(s));
}

}  // namespace
}  // namespace quasr::kernels
