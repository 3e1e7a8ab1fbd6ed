// The feature extractor run in chunks of output frames, each thread taking
// chunks through every conv layer (Wav2Vec2Encoder::extract_features), against
// the same model run whole, one layer after another (QUASR_EXTRACTOR_CHUNKS=0):
// the same bits, with static int8 and fp32 (bf16x3 on AMX, quasr's AVX2
// kernel at ISA level avx2) convs (int8 on quasr's AMX or AVX2 kernel), for lengths around the
// chunk size and chunk sizes that split them unevenly. Convs on oneDNN run whole.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "kernels/amx_bf16x3_linear.h"
#include "kernels/avx2_f32_linear.h"
#include "kernels/dnnl_runtime.h"
#include "kernels/int8/amx_int8_matmul.h"
#include "kernels/int8/avx2_int8_matmul.h"
#include "random_encoder.h"

namespace quasr::model {
namespace {

using testing::encode;
using testing::RandomWeights;
using testing::small_config;
using testing::speech_like;

class ExtractorChunksTest : public ::testing::TestWithParam<bool> {
 protected:
  void TearDown() override { unsetenv("QUASR_EXTRACTOR_CHUNKS"); }
};

TEST_P(ExtractorChunksTest, SameBitsAsTheWholeUtterance) {
  kernels::set_num_threads(2);
  const Wav2Vec2Config config = small_config(true);
  RandomWeights weights(config, /*static_convs=*/GetParam());
  ModelBuild build;
  build.quantized = weights.quantized();
  build.fp32_matmul = Fp32Matmul::kBf16x3;
  BuildContext ctx(weights.dict(), "", "", &build);
  Wav2Vec2Encoder encoder(ctx, config);
  build.run_deferred();
  const bool amx =
      kernels::int8_detail::AmxInt8Matmul::available() && kernels::AmxBf16x3Linear::available();
  // quasr's AVX2 kernels: fp32 at ISA level avx2, int8 at levels without VNNI.
  const bool avx2 =
      avx2_kernels_enabled() &&
      (GetParam()
           ? isa_level() <= IsaLevel::kAvx512 && kernels::int8_detail::Avx2Int8Matmul::available()
           : isa_level() == IsaLevel::kAvx2 && kernels::Avx2F32Linear::available());
  EXPECT_EQ(encoder.extracts_in_chunks(), amx || avx2);
  // 1 frame, a chunk's 32 frames and one either side, and a long input.
  for (int64_t frames : {1, 31, 32, 33, 299}) {
    const std::vector<float> wav = speech_like(frames * 20 + 37, static_cast<uint32_t>(frames));
    ASSERT_EQ(config.frames_for_samples(static_cast<int64_t>(wav.size())), frames);
    Workspace ws;
    setenv("QUASR_EXTRACTOR_CHUNKS", "0", 1);
    const std::vector<float> whole = encode(encoder, wav, ws);
    ASSERT_EQ(whole.size(), static_cast<size_t>(frames * config.hidden_size));
    double squares = 0.0;
    for (float v : whole) squares += double(v) * v;
    EXPECT_GT(squares / double(whole.size()), 0.1) << frames;  // real activations
    for (const char* chunk_frames : {"", "7", "1"}) {
      if (!amx) break;
      if (*chunk_frames)
        setenv("QUASR_EXTRACTOR_CHUNKS", chunk_frames, 1);
      else
        unsetenv("QUASR_EXTRACTOR_CHUNKS");  // the default size
      const std::vector<float> chunked = encode(encoder, wav, ws);
      ASSERT_EQ(chunked.size(), whole.size());
      for (size_t i = 0; i < whole.size(); ++i)
        ASSERT_EQ(chunked[i], whole[i])
            << frames << " frames, chunks of '" << chunk_frames << "', value " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Convs, ExtractorChunksTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "StaticInt8" : "Fp32"; });

}  // namespace
}  // namespace quasr::model
