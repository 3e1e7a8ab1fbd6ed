// The transformer stack in one parallel region, each thread on its own rows
// (Wav2Vec2Encoder::shares_rows), against the same model with one parallel
// region per kernel (QUASR_ROW_SHARES=0): the same bits, for pre- and
// post-LN layers and for utterances that split into uneven row shares, on
// random_encoder.h's model; skipped where AMX is not usable.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/dnnl_runtime.h"
#include "kernels/int8/amx_int8_matmul.h"
#include "model/wav2vec2_encoder.h"
#include "random_encoder.h"

namespace quasr::model {
namespace {

using testing::encode;
using testing::RandomBf16Encoder;
using testing::small_config;
using testing::speech_like;

class RowShareTest : public ::testing::TestWithParam<bool> {
 protected:
  void TearDown() override { unsetenv("QUASR_ROW_SHARES"); }
};

TEST_P(RowShareTest, SameBitsAsOneParallelRegionPerKernel) {
  if (!kernels::int8_detail::AmxInt8Matmul::available() ||
      !kernels::Bf16AttentionInput::runs_on_amx(64))
    GTEST_SKIP() << "AMX not usable here";
  kernels::set_num_threads(2);
  const Wav2Vec2Config config = small_config(GetParam());
  const RandomBf16Encoder random(config);
  const Wav2Vec2Encoder& encoder = random.encoder();

  // 299 frames (padded 320: 20 groups of 16, 10 per thread), 150 (padded 160:
  // 5 and 5), 135 (padded 160 again, shorter input), 90 (padded 96: too few
  // rows, the kernels' own regions).
  for (int64_t frames : {299, 150, 135, 90}) {
    const std::vector<float> wav = speech_like(frames * 20 + 29, static_cast<uint32_t>(frames));
    ASSERT_EQ(config.frames_for_samples(static_cast<int64_t>(wav.size())), frames);
    const int64_t padded = (frames + 31) / 32 * 32;
    Workspace ws;
    unsetenv("QUASR_ROW_SHARES");
    EXPECT_EQ(encoder.shares_rows(padded), frames > 96) << frames;
    const std::vector<float> shared = encode(encoder, wav, ws);
    setenv("QUASR_ROW_SHARES", "0", 1);
    ASSERT_FALSE(encoder.shares_rows(padded));
    const std::vector<float> per_kernel = encode(encoder, wav, ws);
    ASSERT_EQ(shared.size(), static_cast<size_t>(frames * config.hidden_size));
    ASSERT_EQ(shared.size(), per_kernel.size());
    for (size_t i = 0; i < shared.size(); ++i)
      ASSERT_EQ(shared[i], per_kernel[i]) << frames << " frames, value " << i;
    // Real activations (each layer ends in a LayerNorm, pre-LN in the
    // encoder's): finite, spread around zero.
    double squares = 0.0;
    for (float v : shared) {
      ASSERT_TRUE(std::isfinite(v));
      squares += double(v) * v;
    }
    EXPECT_GT(squares / double(shared.size()), 0.1) << frames;
  }
}

INSTANTIATE_TEST_SUITE_P(LayerNorm, RowShareTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "PreLN" : "PostLN"; });

}  // namespace
}  // namespace quasr::model
