// Hugging Face Wav2Vec2ForCTC / HubertForCTC folders.
#include <filesystem>

#include "core/error.h"
#include "io/safetensors.h"
#include "io/torch_checkpoint.h"
#include "model/asr_model.h"
#include "text/char_vocab_tokenizer.h"

namespace quasr::model {

namespace fs = std::filesystem;

namespace {

// Transformers' Wav2Vec2FeatureExtractor normalises with this epsilon.
constexpr float kHfInputNormEps = 1e-7f;

StateDict load_hf_weights(const fs::path& dir) {
  fs::path safetensors = dir / "model.safetensors";
  if (fs::exists(safetensors)) return load_safetensors(safetensors.string());
  fs::path bin = dir / "pytorch_model.bin";
  if (fs::exists(bin)) return load_torch_checkpoint(bin.string());
  throw Error(dir.string() +
              ": no weights found (expected model.safetensors or pytorch_model.bin)");
}

}  // namespace

ModelParts load_hf_folder(const std::string& directory, const LoadOptions& options) {
  fs::path dir(directory);
  ModelParts parts;
  parts.format = CheckpointFormat::kHuggingFace;
  parts.directory = directory;
  parts.config = read_hf_config(directory);
  parts.build.keep_source_weights = options.keep_source_weights;
  parts.build.fp32_matmul = resolve_fp32_matmul(options.fp32_matmul);
  StateDict weights = load_hf_weights(dir);
  const std::string prefix = parts.config.model_type + ".";
  if (!weights.contains(prefix + "feature_extractor.conv_layers.0.conv.weight"))
    throw Error(weights.source() + ": tensor '" + prefix +
                "feature_extractor.conv_layers.0.conv.weight' not found (is this a " +
                parts.config.model_type + " CTC checkpoint?)");
  BuildContext encoder_ctx(weights, prefix, prefix, &parts.build);
  parts.encoder = std::make_unique<Wav2Vec2Encoder>(encoder_ctx, parts.config);
  BuildContext head_ctx(weights, "", "", &parts.build);
  int64_t vocab = weights.get("lm_head.weight").shape.at(0);
  parts.head = std::make_unique<HfCtcHead>(head_ctx, parts.config.hidden_size, vocab);
  parts.input_norm = {parts.config.do_normalize, kHfInputNormEps};
  parts.tokenizer =
      std::make_unique<CharVocabTokenizer>(directory, static_cast<int>(parts.config.pad_token_id));
  for (const char* file : {"vocab.json", "tokenizer_config.json", "special_tokens_map.json",
                           "added_tokens.json", "preprocessor_config.json"})
    if (fs::exists(dir / file)) parts.tokenizer_files.push_back((dir / file).string());
  if (options.keep_source_weights) parts.sources.push_back({weights, "", ""});
  return parts;
}

}  // namespace quasr::model
