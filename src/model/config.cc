#include "model/config.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace quasr::model {

namespace fs = std::filesystem;
using nlohmann::json;

int64_t Wav2Vec2Config::samples_per_frame() const {
  int64_t step = 1;
  for (int64_t stride : conv_stride) step *= stride;
  return step;
}

int64_t Wav2Vec2Config::samples_for_frames(int64_t frames) const {
  int64_t needed = frames;
  for (size_t i = conv_kernel.size(); i-- > 0;)
    needed = (needed - 1) * conv_stride[i] + conv_kernel[i];
  return needed;
}

int64_t Wav2Vec2Config::frames_for_samples(int64_t samples) const {
  int64_t length = samples;
  for (size_t i = 0; i < conv_kernel.size(); ++i) {
    if (length < conv_kernel[i]) return 0;
    length = (length - conv_kernel[i]) / conv_stride[i] + 1;
  }
  return length;
}

void Wav2Vec2Config::validate(const std::string& source) const {
  auto fail = [&](const std::string& what) { throw Error(source + ": " + what); };
  if (model_type != "wav2vec2" && model_type != "hubert")
    fail("model_type '" + model_type + "' is not supported (expected wav2vec2 or hubert)");
  if (conv_dim.empty() || conv_dim.size() != conv_kernel.size() ||
      conv_dim.size() != conv_stride.size())
    fail("conv_dim, conv_kernel and conv_stride must be non-empty and of equal length (got " +
         std::to_string(conv_dim.size()) + ", " + std::to_string(conv_kernel.size()) + ", " +
         std::to_string(conv_stride.size()) + ")");
  if (feat_extract_norm != "group" && feat_extract_norm != "layer")
    fail("feat_extract_norm '" + feat_extract_norm +
         "' is not supported (expected group or layer)");
  if (hidden_size <= 0 || num_attention_heads <= 0 || hidden_size % num_attention_heads != 0)
    fail("hidden_size " + std::to_string(hidden_size) +
         " is not divisible by num_attention_heads " + std::to_string(num_attention_heads));
  if (num_conv_pos_embedding_groups <= 0 || hidden_size % num_conv_pos_embedding_groups != 0)
    fail("hidden_size is not divisible by num_conv_pos_embedding_groups");
  if (num_hidden_layers < 0 || intermediate_size <= 0 || num_conv_pos_embeddings <= 0)
    fail("num_hidden_layers, intermediate_size and num_conv_pos_embeddings must be positive");
}

json Wav2Vec2Config::to_json() const {
  return json{{"model_type", model_type},
              {"conv_dim", conv_dim},
              {"conv_kernel", conv_kernel},
              {"conv_stride", conv_stride},
              {"conv_bias", conv_bias},
              {"feat_extract_norm", feat_extract_norm},
              {"feat_proj_layer_norm", feat_proj_layer_norm},
              {"hidden_size", hidden_size},
              {"num_hidden_layers", num_hidden_layers},
              {"num_attention_heads", num_attention_heads},
              {"intermediate_size", intermediate_size},
              {"layer_norm_eps", layer_norm_eps},
              {"num_conv_pos_embeddings", num_conv_pos_embeddings},
              {"num_conv_pos_embedding_groups", num_conv_pos_embedding_groups},
              {"do_stable_layer_norm", do_stable_layer_norm},
              {"vocab_size", vocab_size},
              {"pad_token_id", pad_token_id},
              {"do_normalize", do_normalize},
              {"return_attention_mask", return_attention_mask},
              {"hidden_act", "gelu"},
              {"feat_extract_activation", "gelu"}};
}

namespace {

json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot open file");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error(path.string() + ": malformed JSON (" + std::string(e.what()) + ")");
  }
}

template <typename T>
void read_field(const json& config, const char* key, T* value, const std::string& source) {
  auto found = config.find(key);
  if (found == config.end() || found->is_null()) return;
  try {
    *value = found->get<T>();
  } catch (const json::exception&) {
    throw Error(source + ": field '" + key + "' has an unexpected type (" + found->dump() + ")");
  }
}

}  // namespace

Wav2Vec2Config parse_hf_config(const json& config, const std::string& source) {
  if (!config.is_object()) throw Error(source + ": expected a JSON object");
  Wav2Vec2Config c;
  read_field(config, "model_type", &c.model_type, source);
  read_field(config, "conv_dim", &c.conv_dim, source);
  read_field(config, "conv_kernel", &c.conv_kernel, source);
  read_field(config, "conv_stride", &c.conv_stride, source);
  read_field(config, "conv_bias", &c.conv_bias, source);
  read_field(config, "feat_extract_norm", &c.feat_extract_norm, source);
  read_field(config, "feat_proj_layer_norm", &c.feat_proj_layer_norm, source);
  read_field(config, "hidden_size", &c.hidden_size, source);
  read_field(config, "num_hidden_layers", &c.num_hidden_layers, source);
  read_field(config, "num_attention_heads", &c.num_attention_heads, source);
  read_field(config, "intermediate_size", &c.intermediate_size, source);
  read_field(config, "layer_norm_eps", &c.layer_norm_eps, source);
  read_field(config, "num_conv_pos_embeddings", &c.num_conv_pos_embeddings, source);
  read_field(config, "num_conv_pos_embedding_groups", &c.num_conv_pos_embedding_groups, source);
  read_field(config, "do_stable_layer_norm", &c.do_stable_layer_norm, source);
  read_field(config, "vocab_size", &c.vocab_size, source);
  read_field(config, "pad_token_id", &c.pad_token_id, source);
  read_field(config, "do_normalize", &c.do_normalize, source);
  read_field(config, "return_attention_mask", &c.return_attention_mask, source);
  for (const char* key : {"hidden_act", "feat_extract_activation"}) {
    std::string activation = "gelu";
    read_field(config, key, &activation, source);
    if (activation != "gelu")
      throw Error(source + ": " + key + " '" + activation + "' is not supported (only gelu)");
  }
  bool conv_pos_batch_norm = false;
  read_field(config, "conv_pos_batch_norm", &conv_pos_batch_norm, source);
  if (conv_pos_batch_norm) throw Error(source + ": conv_pos_batch_norm is not supported");
  c.validate(source);
  return c;
}

Wav2Vec2Config read_hf_config(const std::string& folder) {
  fs::path config_path = fs::path(folder) / "config.json";
  if (!fs::exists(config_path)) throw Error(config_path.string() + ": file not found");
  json config = read_json_file(config_path);
  fs::path preprocessor = fs::path(folder) / "preprocessor_config.json";
  if (fs::exists(preprocessor)) {
    json extra = read_json_file(preprocessor);
    for (const char* key : {"do_normalize", "return_attention_mask"})
      if (extra.contains(key)) config[key] = extra[key];
  }
  return parse_hf_config(config, config_path.string());
}

}  // namespace quasr::model
