// A small wav2vec2 encoder with random weights, built in memory with shapes
// the AMX kernels cover (hidden 128, head size 64): the transformer's
// linears dynamic int8 as a quantized quasr folder stores them, the
// extractor's convs fp32 or static int8. For tests that compare two ways of
// running the same model.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "in_memory_state_dict.h"
#include "model/wav2vec2_encoder.h"

namespace quasr::model::testing {

inline Wav2Vec2Config small_config(bool stable) {
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
  // static_convs: the extractor's convs static int8 (each input's scale
  // and zero point as calibration would pick them for these weights), else fp32.
  explicit RandomWeights(const Wav2Vec2Config& c, bool static_convs = false)
      : tensors_("random-encoder") {
    for (size_t i = 0; i < c.conv_dim.size(); ++i) {
      const std::string p = "feature_extractor.conv_layers." + std::to_string(i);
      const int64_t in = i == 0 ? 1 : c.conv_dim[i - 1], window = in * c.conv_kernel[i];
      if (static_convs) {
        // The waveform within ±0.5, GELU outputs of unit-variance frames within [-0.17, 4].
        add_int8_weights(p + ".conv", {c.conv_dim[i], in, c.conv_kernel[i]});
        LeafQuantSpec conv;
        conv.scheme = "static_int8";
        conv.input_scale = i == 0 ? 1.0f / 255.0f : 4.2f / 255.0f;
        conv.input_zero_point = i == 0 ? 128 : 10;
        quantized_[p + ".conv"] = conv;
      } else {
        add_f32(p + ".conv.weight", {c.conv_dim[i], in, c.conv_kernel[i]},
                1.0f / std::sqrt(float(window)));
      }
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
  // I8 weights and per-channel scales for unit-variance outputs.
  void add_int8_weights(const std::string& path, const Shape& shape) {
    const int64_t out = shape[0], in = shape_numel(shape) / out;
    std::uniform_int_distribution<int> level(-127, 127);
    std::vector<int8_t> weight(static_cast<size_t>(out * in));
    for (int8_t& v : weight) v = static_cast<int8_t>(level(rng_));
    tensors_.add_i8(path + ".weight", std::move(weight), shape);
    add_f32(path + ".weight_scale", {out}, 0.2f / (127.0f * std::sqrt(float(in))),
            1.8f / (127.0f * std::sqrt(float(in))));
  }
  void add_int8_linear(const std::string& path, int64_t out, int64_t in) {
    add_int8_weights(path, {out, in});
    add_f32(path + ".bias", {out}, 0.1f);
    LeafQuantSpec dynamic;
    dynamic.scheme = "dynamic_int8";
    quantized_[path] = dynamic;
  }

  quasr::testing::InMemoryStateDict tensors_;
  std::mt19937 rng_{2024};
  std::map<std::string, LeafQuantSpec> quantized_;
};

// RandomWeights built into an encoder with bf16 attention (what quantized
// folders run), the int8 linears' deferred backends made.
class RandomBf16Encoder {
 public:
  explicit RandomBf16Encoder(const Wav2Vec2Config& config)
      : weights_(config),
        build_(with_quantized(weights_)),
        ctx_(weights_.dict(), "", "", &build_),
        encoder_(ctx_, config) {
    build_.run_deferred();
    encoder_.set_attention_precision(kernels::AttentionPrecision::kBf16);
  }
  const Wav2Vec2Encoder& encoder() const { return encoder_; }

 private:
  static ModelBuild with_quantized(const RandomWeights& weights) {
    ModelBuild build;
    build.quantized = weights.quantized();
    return build;
  }
  RandomWeights weights_;
  ModelBuild build_;
  BuildContext ctx_;
  Wav2Vec2Encoder encoder_;
};

inline std::vector<float> speech_like(int64_t samples, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::vector<float> wav(static_cast<size_t>(samples));
  for (int64_t i = 0; i < samples; ++i)
    wav[i] = 0.3f * std::sin(0.05f * float(i)) * std::sin(0.0007f * float(i)) + noise(rng);
  return wav;
}

inline std::vector<float> encode(const Wav2Vec2Encoder& encoder, const std::vector<float>& wav,
                                 Workspace& ws) {
  Tensor hidden;
  const int64_t frames = encoder.forward(wav.data(), static_cast<int64_t>(wav.size()), ws, hidden);
  return std::vector<float>(hidden.data(), hidden.data() + frames * hidden.dim(1));
}

}  // namespace quasr::model::testing
