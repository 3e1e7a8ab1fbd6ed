#include "model/quasr_folder.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/safetensors.h"
#include "text/char_vocab_tokenizer.h"
#include "text/sentencepiece_tokenizer.h"

namespace quasr::model {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* kConfigFile = "config.json";
const char* kWeightsFile = "model.safetensors";

// Source tensors a quantized leaf replaces (plain weight or weight-norm parts).
bool replaced_by_quantized(const std::string& name,
                           const std::map<std::string, QuantizedLeaf>& leaves) {
  for (const char* suffix :
       {".weight", ".weight_g", ".weight_v", ".parametrizations.weight.original0",
        ".parametrizations.weight.original1"}) {
    std::string_view view(name);
    std::string_view tail(suffix);
    if (view.size() > tail.size() && view.substr(view.size() - tail.size()) == tail &&
        leaves.count(std::string(view.substr(0, view.size() - tail.size()))))
      return true;
  }
  return false;
}

}  // namespace

json leaf_spec_to_json(const LeafQuantSpec& spec) {
  json out{{"scheme", spec.scheme},
           {"weights", spec.per_channel_weights ? "per_channel" : "per_tensor"}};
  if (spec.scheme == "dynamic_int8")
    out["activations"] = spec.per_row_activations ? "per_row" : "per_tensor";
  if (spec.scheme == "static_int8") {
    out["input_scale"] = spec.input_scale;
    out["input_zero_point"] = spec.input_zero_point;
  }
  return out;
}

namespace {

LeafQuantSpec spec_from_json(const json& in, const std::string& source) {
  try {
    LeafQuantSpec spec;
    spec.scheme = in.at("scheme").get<std::string>();
    spec.per_channel_weights = in.value("weights", "per_channel") == "per_channel";
    spec.per_row_activations = in.value("activations", "per_row") == "per_row";
    spec.input_scale = in.value("input_scale", 0.0f);
    spec.input_zero_point = in.value("input_zero_point", 0);
    if (spec.scheme != "dynamic_int8" && spec.scheme != "static_int8")
      throw Error(source + ": unknown quantization scheme '" + spec.scheme + "'");
    if (spec.scheme == "static_int8" && !(spec.input_scale > 0.0f))
      throw Error(source + ": static_int8 module without a positive input_scale");
    return spec;
  } catch (const json::exception& e) {
    throw Error(source + ": malformed quantization entry (" + std::string(e.what()) + ")");
  }
}

std::string encoder_prefix(const AsrModel& model) {
  if (model.format() == CheckpointFormat::kSpeechBrain) return "encoder.wav2vec2.model.";
  return model.config().model_type + ".";
}

json model_config_json(const AsrModel& model, const json& quantization) {
  const ModelParts& parts = model.parts();
  bool speechbrain = model.format() == CheckpointFormat::kSpeechBrain;
  json head{{"type", speechbrain ? "speechbrain_enc_ctc_lin" : "lm_head"}};
  if (speechbrain)
    head["leaky_relu_slope"] = static_cast<const SpeechBrainCtcHead&>(*parts.head).leaky_slope();
  return json{{"quasr_format", kQuasrFormatVersion},
              {"source_format", speechbrain ? "speechbrain" : "huggingface"},
              {"source_model", parts.directory},
              {"architecture", parts.config.to_json()},
              {"encoder_prefix", encoder_prefix(model)},
              {"head", head},
              {"input_normalization",
               {{"enabled", parts.input_norm.enabled}, {"eps", parts.input_norm.eps}}},
              {"output_normalization",
               {{"enabled", parts.output_norm.enabled}, {"eps", parts.output_norm.eps}}},
              {"tokenizer",
               {{"type", speechbrain ? "sentencepiece" : "char_vocab"},
                {"blank_id", model.tokenizer().blank_id()}}},
              {"quantization", quantization}};
}

void write_weights(const AsrModel& model, const std::map<std::string, QuantizedLeaf>& leaves,
                   const std::string& path) {
  std::vector<std::pair<std::string, RawTensor>> tensors;
  for (const ModelParts::Source& source : model.parts().sources) {
    for (const std::string& key : source.dict.names()) {
      if (key.rfind(source.key_prefix, 0) != 0) continue;
      std::string name = source.name_prefix + key.substr(source.key_prefix.size());
      if (!replaced_by_quantized(name, leaves)) tensors.emplace_back(name, source.dict.get(key));
    }
  }
  for (const auto& [name, leaf] : leaves) {
    RawTensor weight{DType::kI8, leaf.shape, reinterpret_cast<const std::byte*>(leaf.data.data()),
                     leaf.data.size()};
    RawTensor scale{DType::kF32,
                    {static_cast<int64_t>(leaf.scales.size())},
                    reinterpret_cast<const std::byte*>(leaf.scales.data()),
                    leaf.scales.size() * sizeof(float)};
    tensors.emplace_back(name + ".weight", weight);
    tensors.emplace_back(name + ".weight_scale", scale);
  }
  save_safetensors(path, tensors, {{"format", "pt"}, {"producer", "quasr"}});
}

}  // namespace

void save_quasr_folder(const AsrModel& model, const std::map<std::string, QuantizedLeaf>& leaves,
                       const json& quantization, const std::string& directory) {
  if (model.parts().sources.empty())
    throw Error(model.directory() + ": model was not loaded with its source weights");
  fs::path target(directory);
  if (fs::exists(target)) throw Error(directory + ": already exists (choose a new output folder)");
  fs::path staging = target.parent_path() /
                     (target.filename().string() + ".partial-" + std::to_string(::getpid()));
  fs::remove_all(staging);
  try {
    fs::create_directories(staging);
    write_weights(model, leaves, (staging / kWeightsFile).string());
    std::ofstream config(staging / kConfigFile);
    config << model_config_json(model, quantization).dump(2) << "\n";
    if (!config.good()) throw Error((staging / kConfigFile).string() + ": write failed");
    config.close();
    for (const std::string& file : model.parts().tokenizer_files)
      fs::copy_file(file, staging / fs::path(file).filename());
    fs::rename(staging, target);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(staging);
    throw Error(directory + ": cannot write model folder (" + e.code().message() + ")");
  } catch (...) {
    fs::remove_all(staging);
    throw;
  }
}

bool is_quasr_folder(const std::string& directory) {
  fs::path config = fs::path(directory) / kConfigFile;
  if (!fs::exists(config)) return false;
  std::ifstream in(config);
  json parsed = json::parse(in, nullptr, /*allow_exceptions=*/false);
  return parsed.is_object() && parsed.contains("quasr_format");
}

json read_quasr_config(const std::string& directory) {
  std::string path = (fs::path(directory) / kConfigFile).string();
  std::ifstream in(path);
  json config = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) throw Error(path + ": malformed JSON");
  if (config.value("quasr_format", 0) != kQuasrFormatVersion)
    throw Error(path + ": unsupported quasr_format " + config["quasr_format"].dump() +
                " (this build reads " + std::to_string(kQuasrFormatVersion) + ")");
  return config;
}

ModelParts load_quasr_folder(const std::string& directory, const LoadOptions& options) {
  fs::path dir(directory);
  json config = read_quasr_config(directory);
  const std::string source = (dir / kConfigFile).string();
  ModelParts parts;
  parts.directory = directory;
  try {
    bool speechbrain = config.at("source_format") == "speechbrain";
    parts.format = speechbrain ? CheckpointFormat::kSpeechBrain : CheckpointFormat::kHuggingFace;
    parts.config = parse_hf_config(config.at("architecture"), source);
    parts.build.keep_source_weights = options.keep_source_weights;
    parts.build.fp32_matmul = resolve_fp32_matmul(options.fp32_matmul);
    const json modules = config["quantization"].value("modules", json::object());
    for (const auto& [name, entry] : modules.items())
      parts.build.quantized[name] = spec_from_json(entry, source);
    StateDict weights = load_safetensors((dir / kWeightsFile).string());
    std::string prefix = config.at("encoder_prefix").get<std::string>();
    BuildContext encoder_ctx(weights, prefix, prefix, &parts.build);
    parts.encoder = std::make_unique<Wav2Vec2Encoder>(encoder_ctx, parts.config);
    int blank = config.at("tokenizer").at("blank_id").get<int>();
    if (speechbrain) {
      float slope = config.at("head").at("leaky_relu_slope").get<float>();
      parts.head =
          std::make_unique<SpeechBrainCtcHead>(weights, "encoder.enc.", "encoder.ctc_lin.",
                                               parts.config.hidden_size, slope, &parts.build);
      parts.tokenizer =
          std::make_unique<SentencePieceTokenizer>((dir / "tokenizer.ckpt").string(), blank);
      parts.tokenizer_files.push_back((dir / "tokenizer.ckpt").string());
    } else {
      BuildContext head_ctx(weights, "", "", &parts.build);
      int64_t vocab = weights.get("lm_head.weight").shape.at(0);
      parts.head = std::make_unique<HfCtcHead>(head_ctx, parts.config.hidden_size, vocab);
      parts.tokenizer = std::make_unique<CharVocabTokenizer>(directory, blank);
      for (const char* file : {"vocab.json", "tokenizer_config.json", "special_tokens_map.json",
                               "added_tokens.json", "preprocessor_config.json"})
        if (fs::exists(dir / file)) parts.tokenizer_files.push_back((dir / file).string());
    }
    const json& in_norm = config.at("input_normalization");
    parts.input_norm = {in_norm.at("enabled").get<bool>(), in_norm.at("eps").get<float>()};
    const json& out_norm = config.at("output_normalization");
    parts.output_norm = {out_norm.at("enabled").get<bool>(), out_norm.at("eps").get<float>()};
    if (options.keep_source_weights) parts.sources.push_back({weights, "", ""});
    // Pack the int8 weights while the mapped file is open.
    parts.build.run_deferred();
  } catch (const json::exception& e) {
    throw Error(source + ": malformed quasr config (" + std::string(e.what()) + ")");
  }
  return parts;
}

}  // namespace quasr::model
