// Architectures of public wav2vec2-family checkpoints, keyed by hub id.
//
// A SpeechBrain folder names its encoder by hub id only (`source:`); when no
// local copy of that repo's config.json exists, this table lets the folder
// load offline. Values follow torchaudio's pipelines/_wav2vec2 table and the
// repos' config.json files: base = group-norm extractor, no conv bias, post-LN;
// large-lv60 / XLS-R / HuBERT-large = layer-norm extractor, conv bias, pre-LN.
#include <map>

#include "model/config.h"

namespace quasr::model {
namespace {

Wav2Vec2Config base_group_norm() {
  Wav2Vec2Config c;  // the struct defaults are wav2vec2-base
  return c;
}

Wav2Vec2Config large(bool layer_norm_extractor) {
  Wav2Vec2Config c;
  c.hidden_size = 1024;
  c.num_hidden_layers = 24;
  c.num_attention_heads = 16;
  c.intermediate_size = 4096;
  if (layer_norm_extractor) {
    c.feat_extract_norm = "layer";
    c.conv_bias = true;
    c.do_stable_layer_norm = true;
    c.return_attention_mask = true;
  }
  return c;
}

Wav2Vec2Config xls_r(int64_t layers, int64_t hidden, int64_t ffn) {
  Wav2Vec2Config c = large(true);
  c.num_hidden_layers = layers;
  c.hidden_size = hidden;
  c.intermediate_size = ffn;
  return c;
}

Wav2Vec2Config hubert(Wav2Vec2Config c) {
  c.model_type = "hubert";
  return c;
}

const std::map<std::string, Wav2Vec2Config>& table() {
  static const std::map<std::string, Wav2Vec2Config> known = [] {
    std::map<std::string, Wav2Vec2Config> t;
    t["facebook/wav2vec2-base"] = base_group_norm();
    t["facebook/wav2vec2-base-960h"] = base_group_norm();
    t["facebook/wav2vec2-base-100h"] = base_group_norm();
    t["facebook/wav2vec2-large"] = large(false);
    t["facebook/wav2vec2-large-960h"] = large(false);
    t["facebook/wav2vec2-large-lv60"] = large(true);
    t["facebook/wav2vec2-large-960h-lv60"] = large(true);
    t["facebook/wav2vec2-large-960h-lv60-self"] = large(true);
    t["facebook/wav2vec2-large-robust"] = large(true);
    t["facebook/wav2vec2-large-xlsr-53"] = large(true);
    t["facebook/wav2vec2-xls-r-300m"] = large(true);
    t["facebook/wav2vec2-xls-r-1b"] = xls_r(48, 1280, 5120);
    t["facebook/wav2vec2-xls-r-2b"] = xls_r(48, 1920, 7680);
    Wav2Vec2Config hubert_base = hubert(base_group_norm());
    hubert_base.do_normalize = false;
    t["facebook/hubert-base-ls960"] = hubert_base;
    t["facebook/hubert-large-ll60k"] = hubert(large(true));
    t["facebook/hubert-large-ls960-ft"] = hubert(large(true));
    t["facebook/hubert-xlarge-ll60k"] = hubert(xls_r(48, 1280, 5120));
    t["facebook/hubert-xlarge-ls960-ft"] = hubert(xls_r(48, 1280, 5120));
    return t;
  }();
  return known;
}

}  // namespace

bool known_architecture(const std::string& hub_id, Wav2Vec2Config* config) {
  auto found = table().find(hub_id);
  if (found == table().end()) return false;
  *config = found->second;
  return true;
}

std::vector<std::string> known_architecture_ids() {
  std::vector<std::string> ids;
  for (const auto& entry : table()) ids.push_back(entry.first);
  return ids;
}

}  // namespace quasr::model
