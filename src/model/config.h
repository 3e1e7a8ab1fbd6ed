// Architecture of a wav2vec2-family encoder, in Hugging Face config.json terms.
//
// Every variant the loaders support is a field here (never a literal in the
// model code): conv schedule, norm placement, sizes, positional conv.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace quasr::model {

struct Wav2Vec2Config {
  std::string model_type = "wav2vec2";  // "wav2vec2" or "hubert"
  std::vector<int64_t> conv_dim{512, 512, 512, 512, 512, 512, 512};
  std::vector<int64_t> conv_kernel{10, 3, 3, 3, 3, 2, 2};
  std::vector<int64_t> conv_stride{5, 2, 2, 2, 2, 2, 2};
  bool conv_bias = false;
  std::string feat_extract_norm =
      "group";  // "group": GroupNorm after conv 0; "layer": LN after each
  bool feat_proj_layer_norm = true;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  float layer_norm_eps = 1e-5f;
  int64_t num_conv_pos_embeddings = 128;
  int64_t num_conv_pos_embedding_groups = 16;
  bool do_stable_layer_norm = false;
  int64_t vocab_size = 32;
  int64_t pad_token_id = 0;
  // From preprocessor_config.json.
  bool do_normalize = true;
  bool return_attention_mask = false;

  bool layer_norm_extractor() const { return feat_extract_norm == "layer"; }
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // Frames the feature extractor produces for `samples` input samples.
  int64_t frames_for_samples(int64_t samples) const;
  // Samples between consecutive output frames (the product of the strides).
  int64_t samples_per_frame() const;
  // Samples `frames` output frames need (their receptive fields' union).
  int64_t samples_for_frames(int64_t frames) const;
  // Throws quasr::Error naming `source` when a field is inconsistent or unsupported.
  void validate(const std::string& source) const;
  nlohmann::json to_json() const;
};

// Reads config.json (and, when present, preprocessor_config.json beside it).
Wav2Vec2Config read_hf_config(const std::string& folder);
Wav2Vec2Config parse_hf_config(const nlohmann::json& config, const std::string& source);

// The architectures of well-known hub checkpoints, for SpeechBrain folders whose
// `source` names a hub id that is not available locally. Returns false if unknown.
bool known_architecture(const std::string& hub_id, Wav2Vec2Config* config);
std::vector<std::string> known_architecture_ids();

}  // namespace quasr::model
