// The transformer stack in one parallel region, each thread on its own rows
// (Wav2Vec2Encoder::shares_rows), against the same model with one parallel
// region per kernel (QUASR_ROW_SHARES=0): the same bits, for pre- and
// post-LN layers and for utterances that split into uneven row shares. The
// model is built in memory with shapes the AMX kernels cover (hidden 128,
// head size 64); skipped where AMX is not usable.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "in_memory_state_dict.h"
#include "kernels/attention.h"
#include "kernels/dnnl_runtime.h"
#include "kernels/int8/amx_int8_matmul.h"
#include "model/wav2vec2_encoder.h"

namespace quasr::model {
namespace {

Wav2Vec2Config small_config(bool stable) {
  Wav2Vec2Config config;
  config.conv_dim = {64, 64, 64};
  config.conv_kernel = {10, 3, 3};
  config.conv_stride = {5, 2, 2};  // 20 samples per frame
  config.conv_bias = true;
  config.feat_extract_norm = "layer";
  config.hidden_size = 128;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 2;
  config.intermediate_size = 256;
  config.num_conv_pos_embeddings = 16;
  config.num_conv_pos_embedding_groups = 4;
  config.do_stable_layer_norm = stable;
  return config;
}

// Random fp32 tensors, and the transformer's linears as a quantized quasr
// folder stores them (I8 weight, per-channel scale, dynamic per-row spec).
class RandomWeights {
 public:
  explicit RandomWeights(const Wav2Vec2Config& c) : tensors_("row-share-test") {
    for (size_t i = 0; i < c.conv_dim.size(); ++i) {
      const std::string p = "feature_extractor.conv_layers." + std::to_string(i);
      const int64_t in = i == 0 ? 1 : c.conv_dim[i - 1];
      add_f32(p + ".conv.weight", {c.conv_dim[i], in, c.conv_kernel[i]},
              1.0f / std::sqrt(float(in * c.conv_kernel[i])));
      add_f32(p + ".conv.bias", {c.conv_dim[i]}, 0.1f);
      add_norm(p + ".layer_norm", c.conv_dim[i]);
    }
    const int64_t h = c.hidden_size, inner = c.intermediate_size;
    add_norm("feature_projection.layer_norm", c.conv_dim.back());
    add_f32("feature_projection.projection.weight", {h, c.conv_dim.back()}, 0.12f);
    add_f32("feature_projection.projection.bias", {h}, 0.1f);
    const int64_t group_in = h / c.num_conv_pos_embedding_groups;
    add_f32("encoder.pos_conv_embed.conv.weight", {h, group_in, c.num_conv_pos_embeddings},
            1.0f / std::sqrt(float(group_in * c.num_conv_pos_embeddings)));
    add_f32("encoder.pos_conv_embed.conv.bias", {h}, 0.1f);
    add_norm("encoder.layer_norm", h);
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      const std::string p = "encoder.layers." + std::to_string(l);
      for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"})
        add_int8_linear(p + ".attention." + proj, h, h);
      add_int8_linear(p + ".feed_forward.intermediate_dense", inner, h);
      add_int8_linear(p + ".feed_forward.output_dense", h, inner);
      add_norm(p + ".layer_norm", h);
      add_norm(p + ".final_layer_norm", h);
    }
  }
  const StateDict& dict() const { return tensors_.dict(); }
  const std::map<std::string, LeafQuantSpec>& quantized() const { return quantized_; }

 private:
  void add_f32(const std::string& name, const Shape& shape, float scale, float offset = 0.0f) {
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> values(static_cast<size_t>(shape_numel(shape)));
    for (float& v : values) v = offset + dist(rng_);
    tensors_.add_f32(name, std::move(values), shape);
  }
  void add_norm(const std::string& path, int64_t width) {
    add_f32(path + ".weight", {width}, 0.2f, 1.0f);
    add_f32(path + ".bias", {width}, 0.1f);
  }
  void add_int8_linear(const std::string& path, int64_t out, int64_t in) {
    std::uniform_int_distribution<int> level(-127, 127);
    std::vector<int8_t> weight(static_cast<size_t>(out * in));
    for (int8_t& v : weight) v = static_cast<int8_t>(level(rng_));
    tensors_.add_i8(path + ".weight", std::move(weight), {out, in});
    add_f32(path + ".weight_scale", {out}, 0.2f / (127.0f * std::sqrt(float(in))),
            1.8f / (127.0f * std::sqrt(float(in))));
    add_f32(path + ".bias", {out}, 0.1f);
    LeafQuantSpec dynamic;
    dynamic.scheme = "dynamic_int8";
    quantized_[path] = dynamic;
  }

  testing::InMemoryStateDict tensors_;
  std::mt19937 rng_{2024};
  std::map<std::string, LeafQuantSpec> quantized_;
};

std::vector<float> speech_like(int64_t samples, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::vector<float> wav(static_cast<size_t>(samples));
  for (int64_t i = 0; i < samples; ++i)
    wav[i] = 0.3f * std::sin(0.05f * float(i)) * std::sin(0.0007f * float(i)) + noise(rng);
  return wav;
}

std::vector<float> encode(const Wav2Vec2Encoder& encoder, const std::vector<float>& wav,
                          Workspace& ws) {
  Tensor hidden;
  const int64_t frames = encoder.forward(wav.data(), static_cast<int64_t>(wav.size()), ws, hidden);
  return std::vector<float>(hidden.data(), hidden.data() + frames * hidden.dim(1));
}

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
  RandomWeights weights(config);
  ModelBuild build;
  build.quantized = weights.quantized();
  BuildContext ctx(weights.dict(), "", "", &build);
  Wav2Vec2Encoder encoder(ctx, config);
  build.run_deferred();
  encoder.set_attention_precision(kernels::AttentionPrecision::kBf16);

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
