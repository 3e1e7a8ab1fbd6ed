// SpeechBrain EncoderASR folders (the layout of asr-wav2vec2-commonvoice-14-en):
// hyperparams.yaml + wav2vec2.ckpt + asr.ckpt + tokenizer.ckpt.
//
// The encoder's architecture is not in the folder: the lobe names a `source`
// (a hub id or a path). It is looked up, in order, as a local folder, in the
// Hugging Face cache layout under the lobe's save_path, and in the built-in
// table of well-known hub ids.
#include <filesystem>
#include <functional>

#include <yaml-cpp/yaml.h>

#include "core/error.h"
#include "io/torch_checkpoint.h"
#include "model/asr_model.h"
#include "text/sentencepiece_tokenizer.h"

namespace quasr::model {

namespace fs = std::filesystem;

namespace {

// The lobe's F.layer_norm default epsilon.
constexpr float kSpeechBrainNormEps = 1e-5f;
constexpr float kDefaultLeakySlope = 0.01f;

struct LobeSettings {
  std::string source;
  std::string save_path;
  bool output_norm = false;
};

// Resolves `<name>` references (SpeechBrain's !ref) against top-level scalars.
std::string resolve_refs(const YAML::Node& root, std::string text, int depth = 0) {
  size_t open = text.find('<');
  while (open != std::string::npos && depth < 16) {
    size_t close = text.find('>', open);
    if (close == std::string::npos) break;
    std::string key = text.substr(open + 1, close - open - 1);
    YAML::Node value = root[key];
    if (!value || !value.IsScalar()) break;
    std::string replacement = resolve_refs(root, value.Scalar(), depth + 1);
    text.replace(open, close - open + 1, replacement);
    open = text.find('<', open + replacement.size());
  }
  return text;
}

bool is_lobe_tag(const std::string& tag) {
  return tag.find("Wav2Vec2") != std::string::npos || tag.find("wav2vec2") != std::string::npos ||
         tag.find("HuBERT") != std::string::npos || tag.find("Hubert") != std::string::npos;
}

bool scalar_is_true(const std::string& value) {
  return value == "True" || value == "true" || value == "yes" || value == "1";
}

LobeSettings read_lobe(const YAML::Node& root, const std::string& source_file) {
  for (const auto& entry : root) {
    const YAML::Node& node = entry.second;
    if (!node.IsMap() || !is_lobe_tag(node.Tag())) continue;
    LobeSettings lobe;
    auto scalar = [&](const char* key) {
      return node[key] && node[key].IsScalar() ? resolve_refs(root, node[key].Scalar())
                                               : std::string();
    };
    lobe.source = scalar("source");
    lobe.save_path = scalar("save_path");
    lobe.output_norm = scalar_is_true(scalar("output_norm"));
    if (lobe.source.empty())
      throw Error(source_file + ": the wav2vec2 lobe '" + entry.first.Scalar() + "' has no source");
    return lobe;
  }
  throw Error(source_file + ": no wav2vec2/HuBERT lobe (a !new: ...Wav2Vec2 entry) found");
}

// The LeakyReLU slope of the `enc` stack; any other activation is refused.
float read_enc_activation(const YAML::Node& root, const std::string& source_file) {
  float slope = kDefaultLeakySlope;
  std::function<void(const YAML::Node&)> visit = [&](const YAML::Node& node) {
    const std::string& tag = node.Tag();
    if (tag.find("torch.nn.") != std::string::npos && tag.find("ReLU") != std::string::npos) {
      if (tag.find("LeakyReLU") == std::string::npos)
        throw Error(source_file + ": enc activation '" + tag +
                    "' is not supported (LeakyReLU only)");
      if (node.IsMap() && node["negative_slope"]) slope = node["negative_slope"].as<float>();
    }
    if (node.IsMap())
      for (const auto& child : node) visit(child.second);
    if (node.IsSequence())
      for (const auto& child : node) visit(child);
  };
  if (root["enc"]) visit(root["enc"]);
  return slope;
}

fs::path resolve_relative(const fs::path& dir, const std::string& path) {
  fs::path p(path);
  return p.is_absolute() ? p : dir / p;
}

// Finds config.json for the lobe's source, or explains which file to provide.
Wav2Vec2Config resolve_architecture(const fs::path& dir, const LobeSettings& lobe,
                                    const std::string& hparams) {
  fs::path local = resolve_relative(dir, lobe.source);
  if (fs::is_directory(local) && fs::exists(local / "config.json"))
    return read_hf_config(local.string());
  std::string cache_name = "models--" + lobe.source;
  for (size_t slash; (slash = cache_name.find('/')) != std::string::npos;)
    cache_name.replace(slash, 1, "--");
  std::vector<fs::path> cache_roots{dir / cache_name};
  if (!lobe.save_path.empty()) {
    fs::path save = resolve_relative(dir, lobe.save_path);
    cache_roots.insert(cache_roots.begin(), save / cache_name);
    if (fs::exists(save / "config.json")) return read_hf_config(save.string());
  }
  for (const fs::path& root : cache_roots) {
    fs::path snapshots = root / "snapshots";
    if (!fs::is_directory(snapshots)) continue;
    for (const auto& snapshot : fs::directory_iterator(snapshots))
      if (fs::exists(snapshot.path() / "config.json"))
        return read_hf_config(snapshot.path().string());
  }
  Wav2Vec2Config config;
  if (known_architecture(lobe.source, &config)) return config;
  throw Error(
      hparams + ": the wav2vec2 source '" + lobe.source +
      "' is not a local folder with config.json, has no Hugging Face cache copy under '" +
      (lobe.save_path.empty() ? dir.string() : lobe.save_path) +
      "', and is not a known hub id; put its config.json (and preprocessor_config.json) in " +
      local.string());
}

fs::path required_file(const fs::path& dir, const char* name) {
  fs::path path = dir / name;
  if (!fs::exists(path))
    throw Error(path.string() + ": file not found (SpeechBrain folder needs it)");
  return path;
}

}  // namespace

ModelParts load_speechbrain_folder(const std::string& directory, const LoadOptions& options) {
  fs::path dir(directory);
  const std::string hparams = (dir / "hyperparams.yaml").string();
  YAML::Node root;
  try {
    root = YAML::LoadFile(hparams);
  } catch (const YAML::Exception& e) {
    throw Error(hparams + ": malformed YAML (" + e.msg + ")");
  }
  LobeSettings lobe = read_lobe(root, hparams);
  ModelParts parts;
  parts.format = CheckpointFormat::kSpeechBrain;
  parts.directory = directory;
  parts.config = resolve_architecture(dir, lobe, hparams);
  parts.build.keep_source_weights = options.keep_source_weights;
  parts.build.fp32_matmul = resolve_fp32_matmul(options.fp32_matmul);
  StateDict encoder_weights = load_torch_checkpoint(required_file(dir, "wav2vec2.ckpt").string());
  // SpeechBrain-pretrained sources keep HF's "wav2vec2." inside the lobe's "model.".
  std::string key_prefix = "model.";
  if (!encoder_weights.contains("model.feature_extractor.conv_layers.0.conv.weight") &&
      encoder_weights.contains("model.wav2vec2.feature_extractor.conv_layers.0.conv.weight"))
    key_prefix = "model.wav2vec2.";
  BuildContext encoder_ctx(encoder_weights, key_prefix, "encoder.wav2vec2.model.", &parts.build);
  parts.encoder = std::make_unique<Wav2Vec2Encoder>(encoder_ctx, parts.config);
  StateDict asr = load_torch_checkpoint(required_file(dir, "asr.ckpt").string());
  parts.head = std::make_unique<SpeechBrainCtcHead>(
      asr, "0.", "1.", parts.config.hidden_size, read_enc_activation(root, hparams), &parts.build);
  int blank = root["blank_index"] ? root["blank_index"].as<int>() : 0;
  std::string tokenizer_path = required_file(dir, "tokenizer.ckpt").string();
  parts.tokenizer = std::make_unique<SentencePieceTokenizer>(tokenizer_path, blank);
  parts.tokenizer_files.push_back(tokenizer_path);
  if (options.keep_source_weights) {
    parts.sources.push_back({encoder_weights, key_prefix, "encoder.wav2vec2.model."});
    parts.sources.push_back({asr, "0.", "encoder.enc."});
    parts.sources.push_back({asr, "1.", "encoder.ctc_lin."});
  }
  parts.input_norm = {parts.config.do_normalize, kSpeechBrainNormEps};
  parts.output_norm = {lobe.output_norm, kSpeechBrainNormEps};
  return parts;
}

}  // namespace quasr::model
