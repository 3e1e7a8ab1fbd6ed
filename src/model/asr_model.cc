#include "model/asr_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "decode/ctc_greedy.h"
#include "kernels/amx_bf16x3_linear.h"
#include "kernels/elementwise.h"

namespace quasr::model {

namespace fs = std::filesystem;

AsrModel::AsrModel(ModelParts parts) : parts_(std::move(parts)) {
  // Deferred backends read weights from their checkpoint's mapping, which only
  // the loader holds: it must have built them.
  if (!parts_.build.deferred.empty())
    throw Error(parts_.directory + ": internal error: quantized modules left unbuilt");
}

bool AsrModel::uses_attention_mask() const {
  return parts_.format == CheckpointFormat::kHuggingFace && parts_.config.return_attention_mask;
}

void AsrModel::forward_prepared(Workspace& ws, Tensor& log_probs) const {
  const int64_t frames = parts_.encoder->forward(ws.input.data(), ws.input.numel(), ws, ws.hidden);
  head_log_probs(frames, ws, log_probs);
}

void AsrModel::head_log_probs(int64_t frames, Workspace& ws, Tensor& log_probs) const {
  if (parts_.output_norm.enabled)
    kernels::normalize_all(ws.hidden.data(), frames * ws.hidden.dim(1), parts_.output_norm.eps);
  ws.times.mark(Stage::kNormResidual);
  parts_.head->forward(ws.hidden, ws, log_probs);
  ws.times.mark(Stage::kHead);
  log_probs.resize({frames, log_probs.dim(1)});  // drop the padding rows
}

void AsrModel::prepare_input(const float* wav, int64_t samples, Workspace& ws) const {
  ws.input.resize({samples});
  std::memcpy(ws.input.data(), wav, sizeof(float) * samples);
  if (parts_.input_norm.enabled)
    kernels::normalize_all(ws.input.data(), samples, parts_.input_norm.eps);
  ws.times.mark(Stage::kInputNorm);
}

void AsrModel::log_probs(const float* wav, int64_t samples, Workspace& ws,
                         Tensor& log_probs) const {
  ws.times.reset();
  prepare_input(wav, samples, ws);
  forward_prepared(ws, log_probs);
}

void AsrModel::log_probs_windowed(const float* wav, int64_t samples, int64_t max_samples,
                                  int64_t context_samples, Workspace& ws, Tensor& log_probs) const {
  if (max_samples <= 0 || samples <= max_samples) {
    this->log_probs(wav, samples, ws, log_probs);
    return;
  }
  // Frame f of a window starting at sample `grid * o` is frame o + f of the
  // whole recording (same receptive field), so windows are placed and cut
  // in frames: window k covers frames [k step, k step + window_frames) and
  // keeps [k step + context, k step + window_frames - context), the first
  // from 0 and the last to the end.
  const int64_t grid = parts_.config.samples_per_frame();
  const int64_t total = parts_.config.frames_for_samples(samples);
  const int64_t window_frames = parts_.config.frames_for_samples(max_samples);
  const int64_t context = (context_samples + grid - 1) / grid;
  const int64_t step = window_frames - 2 * context;
  if (step <= 0)
    throw Error("windows of " + std::to_string(max_samples) + " samples keep no frame with " +
                std::to_string(context_samples) + " samples of context on each side");
  const int64_t vocab = vocab_size();
  log_probs.resize({total, vocab});
  Tensor window;
  StageTimes times;  // of all the windows (starts at zero)
  for (int64_t k = 0, first = 0; first < total; ++k) {
    const int64_t start = k * step * grid;
    const bool last = k * step + window_frames >= total;
    this->log_probs(wav + start, last ? samples - start : max_samples, ws, window);
    times.add(ws.times);
    const int64_t end = last ? total : k * step + window_frames - context;
    if (window.dim(0) != (last ? total - k * step : window_frames))
      throw Error("internal error: a window's frames are off the recording's frame grid");
    std::memcpy(log_probs.data() + first * vocab, window.data() + (first - k * step) * vocab,
                sizeof(float) * (end - first) * vocab);
    first = end;
  }
  ws.times = times;
}

void AsrModel::group_log_probs(std::span<const std::vector<float>> wavs, Workspace& ws,
                               std::vector<Tensor>& log_probs, int64_t max_samples,
                               int64_t context_samples) const {
  log_probs.resize(wavs.size());
  const Wav2Vec2Encoder& encoder = *parts_.encoder;
  // The recordings no longer than a window, each its rows in the stack.
  std::vector<size_t>& short_ones = ws.group_items;
  std::vector<Segment>& segments = ws.group_segments;
  short_ones.clear();
  segments.clear();
  int64_t rows = 0;
  StageTimes times;  // of every utterance (starts at zero)
  for (size_t i = 0; i < wavs.size(); ++i) {
    const auto samples = static_cast<int64_t>(wavs[i].size());
    if (max_samples > 0 && samples > max_samples) {
      log_probs_windowed(wavs[i].data(), samples, max_samples, context_samples, ws, log_probs[i]);
      times.add(ws.times);
      continue;
    }
    const int64_t frames = parts_.config.frames_for_samples(samples);
    short_ones.push_back(i);
    segments.push_back({rows, Wav2Vec2Encoder::padded_frames(frames), frames});
    rows += segments.back().padded;
  }
  if (short_ones.size() < 2) {
    for (size_t i : short_ones) {
      this->log_probs(wavs[i].data(), static_cast<int64_t>(wavs[i].size()), ws, log_probs[i]);
      times.add(ws.times);
    }
    ws.times = times;
    return;
  }
  ws.times.reset();
  const int64_t width = parts_.config.hidden_size;
  ws.stacked.resize({rows, width});
  for (size_t j = 0; j < short_ones.size(); ++j) {
    const std::vector<float>& wav = wavs[short_ones[j]];
    prepare_input(wav.data(), static_cast<int64_t>(wav.size()), ws);
    const int64_t frames = encoder.embed(ws.input.data(), ws.input.numel(), ws, ws.hidden);
    if (frames != segments[j].frames)
      throw Error("internal error: the extractor's frame count differs from the config's");
    std::memcpy(ws.stacked.data() + segments[j].first * width, ws.hidden.data(),
                sizeof(float) * segments[j].padded * width);
  }
  encoder.run_layers(ws.stacked, segments, ws);
  for (size_t j = 0; j < short_ones.size(); ++j) {
    ws.hidden.resize({segments[j].padded, width});
    std::memcpy(ws.hidden.data(), ws.stacked.data() + segments[j].first * width,
                sizeof(float) * segments[j].padded * width);
    head_log_probs(segments[j].frames, ws, log_probs[short_ones[j]]);
  }
  ws.times.add(times);
}

std::vector<Tensor> AsrModel::batch_log_probs(const std::vector<std::vector<float>>& wavs,
                                              Workspace& ws) const {
  std::vector<Tensor> results(wavs.size());
  if (uses_attention_mask()) {
    // Masked attention makes every utterance independent of its padding.
    group_log_probs(wavs, ws, results);
    return results;
  }
  ws.times.reset();
  size_t longest = 0;
  for (const auto& wav : wavs) longest = std::max(longest, wav.size());
  Tensor full;
  for (size_t i = 0; i < wavs.size(); ++i) {
    const int64_t samples = static_cast<int64_t>(wavs[i].size());
    ws.input.resize({static_cast<int64_t>(longest)});
    std::memcpy(ws.input.data(), wavs[i].data(), sizeof(float) * samples);
    // Without a mask both formats pad with zeros first and then normalise the
    // whole padded row (HF's feature extractor pads before normalising when it
    // returns no attention mask; SpeechBrain's lobe normalises the padded batch).
    std::fill(ws.input.data() + samples, ws.input.data() + longest, 0.0f);
    if (parts_.input_norm.enabled)
      kernels::normalize_all(ws.input.data(), static_cast<int64_t>(longest), parts_.input_norm.eps);
    forward_prepared(ws, full);
    int64_t kept;
    if (parts_.format == CheckpointFormat::kHuggingFace) {
      kept = parts_.config.frames_for_samples(samples);
    } else {
      // SpeechBrain keeps round(rel_len * T) frames (round half to even, as torch).
      double relative = longest ? double(samples) / double(longest) : 0.0;
      kept = static_cast<int64_t>(std::nearbyint(relative * full.dim(0)));
    }
    kept = std::min(kept, full.dim(0));
    results[i].resize({kept, full.dim(1)});
    std::memcpy(results[i].data(), full.data(), sizeof(float) * kept * full.dim(1));
  }
  return results;
}

std::string AsrModel::greedy_text(const Tensor& log_probs) const {
  std::vector<int> ids = ctc_greedy_decode(log_probs.data(), log_probs.dim(0), log_probs.dim(1),
                                           parts_.tokenizer->blank_id());
  return parts_.tokenizer->decode(ids);
}

void AsrModel::set_module_scheme(const std::string& name, const std::string& scheme) {
  for (ModuleInfo& module : parts_.build.modules)
    if (module.name == name) {
      module.scheme = scheme;
      if (scheme != "fp32" && !module.params.empty()) module.params[0].dtype = "I8";
    }
}

AttentionChoice parse_attention_choice(const std::string& text, const std::string& what) {
  if (text == "auto") return AttentionChoice::kAuto;
  if (text == "fp32") return AttentionChoice::kFp32;
  if (text == "bf16") return AttentionChoice::kBf16;
  throw Error(what + ": unknown attention precision '" + text + "' (expected auto, fp32 or bf16)");
}

Fp32MatmulChoice parse_fp32_matmul_choice(const std::string& text, const std::string& what) {
  if (text == "auto") return Fp32MatmulChoice::kAuto;
  if (text == "exact") return Fp32MatmulChoice::kExact;
  if (text == "bf16x3") return Fp32MatmulChoice::kBf16x3;
  throw Error(what + ": unknown fp32 matmul '" + text + "' (expected auto, exact or bf16x3)");
}

Fp32Matmul resolve_fp32_matmul(Fp32MatmulChoice choice) {
  const bool amx = kernels::AmxBf16x3Linear::available();
  if (choice == Fp32MatmulChoice::kBf16x3 && !amx)
    throw Error(
        "fp32 matmul bf16x3 needs AMX-BF16, which this CPU lacks or QUASR_AMX=0 turned off "
        "(auto or exact run anywhere)");
  return choice != Fp32MatmulChoice::kExact && amx ? Fp32Matmul::kBf16x3 : Fp32Matmul::kExact;
}

namespace {

std::unique_ptr<AsrModel> with_attention(std::unique_ptr<AsrModel> model, bool quantized,
                                         AttentionChoice choice) {
  const bool bf16 =
      choice == AttentionChoice::kBf16 || (choice == AttentionChoice::kAuto && quantized);
  model->set_attention_precision(bf16 ? kernels::AttentionPrecision::kBf16
                                      : kernels::AttentionPrecision::kFp32);
  return model;
}

}  // namespace

std::unique_ptr<AsrModel> load_model(const std::string& directory, const LoadOptions& options) {
  fs::path dir(directory);
  if (!fs::is_directory(dir)) throw Error(directory + ": model folder not found");
  if (is_quasr_folder(directory))
    return with_attention(std::make_unique<AsrModel>(load_quasr_folder(directory, options)), true,
                          options.attention);
  if (fs::exists(dir / "hyperparams.yaml"))
    return with_attention(std::make_unique<AsrModel>(load_speechbrain_folder(directory, options)),
                          false, options.attention);
  if (fs::exists(dir / "config.json"))
    return with_attention(std::make_unique<AsrModel>(load_hf_folder(directory, options)), false,
                          options.attention);
  throw Error(directory +
              ": not a model folder (expected config.json for Hugging Face or hyperparams.yaml "
              "for SpeechBrain)");
}

}  // namespace quasr::model
