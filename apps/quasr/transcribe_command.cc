#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "audio/audio.h"
#include "commands.h"
#include "core/error.h"
#include "io/npy.h"
#include "kernels/dnnl_runtime.h"
#include "model/asr_model.h"
#include "precision_options.h"
#include "window_options.h"

namespace quasr::cli {

namespace {

struct TranscribeOptions {
  std::string model;
  std::vector<std::string> files;
  std::string logits;
  int threads = 0;
  bool batch = false;
  int64_t batch_size = 1;
  WindowOptions window;
  std::string attention = "auto";
  std::string fp32_matmul = "auto";
};

int run_transcribe(const TranscribeOptions& options) {
  if (!options.logits.empty() && options.files.size() != 1)
    throw Error("--logits " + options.logits + ": takes exactly one input file (got " +
                std::to_string(options.files.size()) + ")");
  if (!options.logits.empty()) {
    // Fail before any work when the output folder does not exist.
    std::filesystem::path parent = std::filesystem::path(options.logits).parent_path();
    if (!parent.empty() && !std::filesystem::is_directory(parent))
      throw Error(options.logits + ": output folder " + parent.string() + " does not exist");
  }
  check_window_options(options.window);
  kernels::set_num_threads(options.threads);
  // Decode every file first: a bad file fails before any output is produced.
  std::vector<std::vector<float>> wavs;
  for (const std::string& file : options.files) wavs.push_back(load_audio(file, 16000));
  model::LoadOptions load;
  load.attention = model::parse_attention_choice(options.attention, "--attention");
  load.fp32_matmul = model::parse_fp32_matmul_choice(options.fp32_matmul, "--fp32-matmul");
  std::unique_ptr<model::AsrModel> model = model::load_model(options.model, load);
  model::Workspace ws;
  std::vector<Tensor> log_probs;
  if (options.batch) {
    log_probs = model->batch_log_probs(wavs, ws);
  } else {
    log_probs.resize(wavs.size());
    std::vector<Tensor> group;
    const auto size = static_cast<size_t>(options.batch_size);
    for (size_t first = 0; first < wavs.size(); first += size) {
      const size_t count = std::min(size, wavs.size() - first);
      model->group_log_probs(std::span(wavs).subspan(first, count), ws, group,
                             options.window.max_samples(), options.window.context_samples());
      for (size_t i = 0; i < count; ++i) std::swap(log_probs[first + i], group[i]);
    }
  }
  if (!options.logits.empty()) write_npy_f32(options.logits, log_probs[0]);
  for (size_t i = 0; i < wavs.size(); ++i)
    std::printf("%s\t%s\n", options.files[i].c_str(), model->greedy_text(log_probs[i]).c_str());
  return 0;
}

}  // namespace

Action add_transcribe_command(CLI::App& app) {
  auto options = std::make_shared<TranscribeOptions>();
  CLI::App* command = app.add_subcommand("transcribe", "Transcribe audio files (greedy CTC)");
  command
      ->add_option("--model", options->model, "Model folder (Hugging Face, SpeechBrain or quasr)")
      ->required();
  command->add_option("files", options->files, "Audio files (WAV, FLAC, OGG; any rate)")
      ->required();
  command->add_option("--logits", options->logits,
                      "Also write the float32 log-probabilities [frames, vocab] of the one input "
                      "file as a NumPy .npy file");
  command->add_option("--threads", options->threads, "Threads (default: all cores)");
  add_precision_options(command, &options->attention, &options->fp32_matmul);
  add_window_options(command, &options->window);
  CLI::Option* batch = command->add_flag(
      "--batch", options->batch,
      "Run all files as one padded batch with the checkpoint format's batching semantics "
      "(default: one at a time)");
  command
      ->add_option("--batch-size", options->batch_size,
                   "Files run together: one transformer pass for each group of N, every result as "
                   "if run alone (default 1)")
      ->check(CLI::PositiveNumber)
      ->excludes(batch);
  return [options] { return run_transcribe(*options); };
}

}  // namespace quasr::cli
