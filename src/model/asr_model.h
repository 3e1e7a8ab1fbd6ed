// A loaded CTC speech recogniser: input normalisation, wav2vec2 encoder,
// CTC head, tokenizer, and the checkpoint format's batching semantics.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/ctc_heads.h"
#include "model/module_tree.h"
#include "model/wav2vec2_encoder.h"
#include "text/tokenizer.h"

namespace quasr::model {

enum class CheckpointFormat { kHuggingFace, kSpeechBrain };

// How the waveform is normalised before the encoder, per format:
//  - Hugging Face processor (`do_normalize`): over the utterance, eps 1e-7
//    (over the zero-padded row when batching without an attention mask).
//  - SpeechBrain lobe (`normalize_wav`): F.layer_norm over the whole
//    (padded) row, eps 1e-5.
struct InputNormalization {
  bool enabled = false;
  float eps = 1e-7f;
};

// SpeechBrain's lobe option `output_norm`: F.layer_norm over [frames, hidden]
// jointly, without affine, eps 1e-5.
struct OutputNormalization {
  bool enabled = false;
  float eps = 1e-5f;
};

struct ModelParts {
  CheckpointFormat format = CheckpointFormat::kHuggingFace;
  std::string directory;
  Wav2Vec2Config config;
  InputNormalization input_norm;
  OutputNormalization output_norm;
  std::unique_ptr<Wav2Vec2Encoder> encoder;
  std::unique_ptr<CtcHead> head;
  std::unique_ptr<Tokenizer> tokenizer;
  ModelBuild build;
  // Kept only when loaded for quantization: the checkpoints and how their
  // keys map to module names, so a quantized folder can be written.
  struct Source {
    StateDict dict;
    std::string key_prefix;
    std::string name_prefix;
  };
  std::vector<Source> sources;
  // Files of the tokenizer, copied into quantized folders.
  std::vector<std::string> tokenizer_files;
};

// How a loaded model runs its attention products.
enum class AttentionChoice {
  kAuto,  // fp32 for fp32 models; bf16 for quantized folders (CPU with native bf16)
  kFp32,
  kBf16,
};

// How a loaded model multiplies in its fp32 linears (Fp32Matmul).
enum class Fp32MatmulChoice {
  kAuto,    // bf16x3 where the CPU has AMX-BF16, else exact
  kExact,   // oneDNN's fp32 GEMM
  kBf16x3,  // an error where the CPU lacks AMX-BF16
};

struct LoadOptions {
  // Leaves keep fp32 weights and the checkpoints stay loaded (for quantize).
  bool keep_source_weights = false;
  AttentionChoice attention = AttentionChoice::kAuto;
  Fp32MatmulChoice fp32_matmul = Fp32MatmulChoice::kAuto;
};

// "auto" | "fp32" | "bf16"; throws quasr::Error naming `what` otherwise.
AttentionChoice parse_attention_choice(const std::string& text, const std::string& what);
// "auto" | "exact" | "bf16x3"; throws quasr::Error naming `what` otherwise.
Fp32MatmulChoice parse_fp32_matmul_choice(const std::string& text, const std::string& what);
// The build setting for a choice on this CPU; throws for bf16x3 without AMX-BF16.
Fp32Matmul resolve_fp32_matmul(Fp32MatmulChoice choice);

class AsrModel {
 public:
  explicit AsrModel(ModelParts parts);

  // wav: [samples] mono 16 kHz. log_probs: [frames, vocab]. Unbatched: the
  // utterance alone, as each format's transcribe_file does it.
  void log_probs(const float* wav, int64_t samples, Workspace& ws, Tensor& log_probs) const;

  // Bounded memory for long recordings: audio longer than max_samples runs
  // in windows of max_samples, each alone, overlapping so that every frame
  // kept from a window has at least context_samples of audio on each side
  // inside it (at the recording's ends, what there is). Windows start on the
  // extractor's frame grid and each contributes the frames of its middle,
  // so the result has log_probs()'s frame count, each frame from the window
  // in which it is farthest from a cut. Input no longer than one window gives
  // exactly log_probs(). Throws when 2 * context leaves a window no frame.
  void log_probs_windowed(const float* wav, int64_t samples, int64_t max_samples,
                          int64_t context_samples, Workspace& ws, Tensor& log_probs) const;

  // Many utterances, each with the log-probs log_probs_windowed() gives it
  // alone. Those no longer than max_samples (all, for 0) run each stage but
  // the transformer one by one and the transformer once for all of them
  // (Wav2Vec2Encoder::run_layers), so its weights (300 MB in large int8)
  // stream from memory once per group instead of once per utterance, most
  // of a short file's time. The same bits as alone wherever each row's
  // products do not depend on the rows beside it (int8; every fixture in
  // fp32 too, tests/model/group_test.cc). ws.times: the group's.
  void group_log_probs(std::span<const std::vector<float>> wavs, Workspace& ws,
                       std::vector<Tensor>& log_probs, int64_t max_samples = 0,
                       int64_t context_samples = 0) const;

  // Several utterances as one padded batch, with the format's own semantics:
  // HF with attention mask → each equals its unbatched result; HF without mask
  // (group-norm models) and SpeechBrain EncoderASR → zero padding to the
  // longest, no mask; rows kept: HF the conv-formula frame count, SpeechBrain
  // round(rel_len * frames). Returns one [frames_i, vocab] tensor per input.
  std::vector<Tensor> batch_log_probs(const std::vector<std::vector<float>>& wavs,
                                      Workspace& ws) const;

  // Greedy CTC decode of [frames, vocab] log-probs to text.
  std::string greedy_text(const Tensor& log_probs) const;

  CheckpointFormat format() const { return parts_.format; }
  const std::string& directory() const { return parts_.directory; }
  const Wav2Vec2Config& config() const { return parts_.config; }
  const Tokenizer& tokenizer() const { return *parts_.tokenizer; }
  const std::vector<ModuleInfo>& modules() const { return parts_.build.modules; }
  const std::vector<Leaf*>& leaves() const { return parts_.build.leaves; }
  const ModelParts& parts() const { return parts_; }
  // Records a leaf's new scheme in the module tree (after quantizing it).
  void set_module_scheme(const std::string& name, const std::string& scheme);
  int64_t vocab_size() const { return parts_.head->vocab_size(); }
  bool uses_attention_mask() const;
  // Precision of the attention products (QKᵀ and ·V). fp32 unless set:
  // load_model() picks bf16 for quantized folders (LoadOptions).
  void set_attention_precision(kernels::AttentionPrecision precision) {
    parts_.encoder->set_attention_precision(precision);
  }
  kernels::AttentionPrecision attention_precision() const {
    return parts_.encoder->attention_precision();
  }

 private:
  // ws.input: a copy of wav, normalised where the model wants it.
  void prepare_input(const float* wav, int64_t samples, Workspace& ws) const;
  void forward_prepared(Workspace& ws, Tensor& log_probs) const;
  // The output norm and head on the encoder's rows in ws.hidden; log_probs
  // keeps `frames` rows.
  void head_log_probs(int64_t frames, Workspace& ws, Tensor& log_probs) const;

  ModelParts parts_;
};

// Loads a model folder: Hugging Face (config.json + model.safetensors or
// pytorch_model.bin + vocab.json) or SpeechBrain EncoderASR (hyperparams.yaml
// + wav2vec2.ckpt + asr.ckpt + tokenizer.ckpt). Throws quasr::Error naming the
// file and the problem.
std::unique_ptr<AsrModel> load_model(const std::string& directory, const LoadOptions& options = {});

ModelParts load_hf_folder(const std::string& directory, const LoadOptions& options);
ModelParts load_speechbrain_folder(const std::string& directory, const LoadOptions& options);
// A folder written by `quasr quantize` (config.json with "quasr_format").
ModelParts load_quasr_folder(const std::string& directory, const LoadOptions& options);
bool is_quasr_folder(const std::string& directory);

}  // namespace quasr::model
