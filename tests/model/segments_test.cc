// Several utterances stacked through the transformer layers at once
// (Wav2Vec2Encoder::run_layers with several segments, what
// AsrModel::group_log_probs runs) against each utterance alone: the same
// bits, on one thread and on two, for pre- and post-LN layers, with one
// parallel region per kernel and (where AMX is usable) with each thread on
// its own rows, a share starting inside a segment and q/k/v blocks that
// span two; on random_encoder.h's int8 model.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/error.h"
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

class SegmentsTest : public ::testing::TestWithParam<bool> {
 protected:
  void TearDown() override { unsetenv("QUASR_ROW_SHARES"); }
};

TEST_P(SegmentsTest, EachSegmentHasItsBitsAlone) {
  const bool amx = kernels::int8_detail::AmxInt8Matmul::available() &&
                   kernels::Bf16AttentionInput::runs_on_amx(64);
  const Wav2Vec2Config config = small_config(GetParam());
  const RandomBf16Encoder random(config);
  const Wav2Vec2Encoder& encoder = random.encoder();

  // Padded to 320, 64, 32, 0 (too short for a frame), 160 and 96 rows: 672
  // in all, 42 row groups of 16, so the second thread's share starts at row
  // 336, 16 rows into the second utterance, and its first 32-row q/k/v block
  // ends 16 rows into the third.
  const std::vector<int64_t> lengths = {299, 40, 1, 0, 150, 65};
  std::vector<std::vector<float>> wavs;
  for (int64_t frames : lengths) {
    wavs.push_back(frames ? speech_like(frames * 20 + 29, static_cast<uint32_t>(frames + 7))
                          : std::vector<float>(25, 0.1f));
    ASSERT_EQ(config.frames_for_samples(static_cast<int64_t>(wavs.back().size())), frames);
  }
  const int64_t width = config.hidden_size;
  for (const bool row_shares : {true, false})
    for (int threads : {2, 1}) {
      kernels::set_num_threads(threads);
      if (row_shares) {
        unsetenv("QUASR_ROW_SHARES");
      } else {
        setenv("QUASR_ROW_SHARES", "0", 1);
      }
      Workspace ws;
      std::vector<std::vector<float>> alone;
      for (const std::vector<float>& wav : wavs) alone.push_back(encode(encoder, wav, ws));

      std::vector<Segment> segments;
      Tensor stacked, rows;
      int64_t total = 0;
      for (int64_t frames : lengths) {
        segments.push_back({total, Wav2Vec2Encoder::padded_frames(frames), frames});
        total += segments.back().padded;
      }
      ASSERT_EQ(total, 672);
      ASSERT_EQ(encoder.stacks_share_rows(total), amx && row_shares) << threads << " threads";
      stacked.resize({total, width});
      for (size_t i = 0; i < wavs.size(); ++i) {
        const int64_t frames =
            encoder.embed(wavs[i].data(), static_cast<int64_t>(wavs[i].size()), ws, rows);
        ASSERT_EQ(frames, lengths[i]);
        ASSERT_EQ(rows.dim(0), segments[i].padded);
        std::memcpy(stacked.data() + segments[i].first * width, rows.data(),
                    sizeof(float) * rows.numel());
      }
      encoder.run_layers(stacked, segments, ws);
      for (size_t i = 0; i < wavs.size(); ++i) {
        ASSERT_EQ(alone[i].size(), static_cast<size_t>(lengths[i] * width));
        const float* together = stacked.data() + segments[i].first * width;
        for (size_t v = 0; v < alone[i].size(); ++v)
          ASSERT_EQ(together[v], alone[i][v]) << threads << " threads, row shares " << row_shares
                                              << ", utterance " << i << ", value " << v;
      }
    }
}

TEST_P(SegmentsTest, SegmentsMustCoverTheRows) {
  const Wav2Vec2Config config = small_config(GetParam());
  const RandomBf16Encoder random(config);
  const Wav2Vec2Encoder& encoder = random.encoder();
  Tensor stacked({96, config.hidden_size});
  stacked.fill(0.0f);
  Workspace ws;
  const std::vector<Segment> short_of_the_end = {{0, 64, 40}};
  const std::vector<Segment> past_the_end = {{0, 64, 40}, {64, 64, 20}};
  for (const auto& segments : {short_of_the_end, past_the_end, std::vector<Segment>{}}) {
    try {
      encoder.run_layers(stacked, segments, ws);
      FAIL() << segments.size() << " segments ran";
    } catch (const quasr::Error& e) {
      EXPECT_STREQ(e.what(), "internal error: the segments do not cover the transformer's rows");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(LayerNorm, SegmentsTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "PreLN" : "PostLN"; });

}  // namespace
}  // namespace quasr::model
