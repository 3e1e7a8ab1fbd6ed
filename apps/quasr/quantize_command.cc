// quasr quantize: the SpeechBrain tutorial's custom_quantize, natively.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "audio/audio.h"
#include "commands.h"
#include "core/error.h"
#include "data/dataset.h"
#include "kernels/dnnl_runtime.h"
#include "model/quasr_folder.h"
#include "quantize/quantizer.h"

namespace quasr::cli {

namespace {

namespace fs = std::filesystem;

struct QuantizeOptions {
  std::string model;
  std::string out;
  std::vector<std::string> dynamic_modules;
  std::vector<std::string> static_modules;
  std::vector<std::string> fp32_modules;
  std::string recipe_file;
  std::string preset;
  std::string calib;
  int64_t calib_n = 10;
  uint64_t seed = 1337;
  std::string observer = "minmax";
  double percentile = 99.99;
  bool per_tensor_weights = false;
  bool per_tensor_activations = false;
  int threads = 0;
};

bool is_audio_file(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".wav" || ext == ".flac" || ext == ".ogg";
}

// A folder of audio files (sorted, recursive) or any dataset the benchmark reads;
// n chosen with the dataset layer's seeded shuffle.
std::vector<std::string> calibration_files(const QuantizeOptions& options) {
  std::vector<std::string> files;
  fs::path root(options.calib);
  if (!fs::exists(root)) throw Error(options.calib + ": calibration data not found");
  // A folder without LibriSpeech transcripts is a plain folder of audio files.
  bool audio_folder = fs::is_directory(root);
  if (audio_folder)
    for (const auto& entry : fs::recursive_directory_iterator(root))
      if (entry.path().filename().string().find(".trans.txt") != std::string::npos)
        audio_folder = false;
  if (audio_folder) {
    for (const auto& entry : fs::recursive_directory_iterator(root))
      if (entry.is_regular_file() && is_audio_file(entry.path()))
        files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    std::vector<Utterance> items;
    for (const std::string& file : files) {
      Utterance item;
      item.id = item.audio_path = file;
      items.push_back(item);
    }
    shuffle_utterances(items, options.seed);
    files.clear();
    for (size_t i = 0; i < items.size() && int64_t(i) < options.calib_n; ++i)
      files.push_back(items[i].audio_path);
    return files;
  }
  DatasetOptions dataset_options;
  dataset_options.shuffle = true;
  dataset_options.seed = options.seed;
  dataset_options.n = options.calib_n;
  for (const Utterance& u : load_dataset(options.calib, dataset_options).utterances)
    files.push_back(u.audio_path);
  return files;
}

quantize::Recipe build_recipe(const QuantizeOptions& options, const model::AsrModel& model) {
  quantize::Recipe recipe;
  if (!options.preset.empty()) recipe = quantize::preset_recipe(options.preset, model);
  if (!options.recipe_file.empty()) {
    quantize::Recipe from_file = quantize::read_recipe_file(options.recipe_file);
    recipe.rules.insert(recipe.rules.end(), from_file.rules.begin(), from_file.rules.end());
    recipe.description += (recipe.description.empty() ? "" : " + ") + from_file.description;
  }
  quantize::RuleOptions defaults;
  defaults.per_channel_weights = !options.per_tensor_weights;
  defaults.per_row_activations = !options.per_tensor_activations;
  defaults.observer = options.observer;
  defaults.percentile = options.percentile;
  auto add = [&](const std::vector<std::string>& names, quantize::Scheme scheme, const char* flag) {
    for (const std::string& name : names)
      recipe.rules.push_back(quantize::Rule{name, scheme, defaults, flag});
  };
  add(options.dynamic_modules, quantize::Scheme::kDynamic, "--dynamic");
  add(options.static_modules, quantize::Scheme::kStatic, "--static");
  add(options.fp32_modules, quantize::Scheme::kFp32, "--keep-fp32");
  if (recipe.rules.empty())
    throw Error("no quantization rules: give --dynamic/--static NAME, --recipe FILE or --preset");
  if (recipe.description.empty()) recipe.description = "command line";
  return recipe;
}

void print_progress(const std::string& stage, size_t done, size_t total) {
  if (!isatty(STDERR_FILENO) && done != total) return;
  std::fprintf(stderr, "\r%s: %zu/%zu%s", stage.c_str(), done, total, done == total ? "\n" : "");
}

int run_quantize(const QuantizeOptions& options) {
  kernels::set_num_threads(options.threads);
  model::LoadOptions load;
  load.keep_source_weights = true;
  // Calibration sees exact fp32 activations: a quantized model does not
  // depend on whether the CPU that made it had AMX.
  load.fp32_matmul = model::Fp32MatmulChoice::kExact;
  std::unique_ptr<model::AsrModel> model = model::load_model(options.model, load);
  quantize::Recipe recipe = build_recipe(options, *model);
  quantize::resolve_recipe(recipe, *model);  // rule errors before reading any audio
  std::vector<std::vector<float>> calibration;
  if (!options.calib.empty())
    for (const std::string& file : calibration_files(options))
      calibration.push_back(load_audio(file, 16000));
  quantize::QuantizeResult result =
      quantize::quantize_model(*model, recipe, calibration, print_progress);
  result.quantization["calibration_data"] = options.calib;
  result.quantization["calibration_seed"] = options.seed;
  model::save_quasr_folder(*model, result.leaves, result.quantization, options.out);
  std::printf("%s", quantize::quality_report_text(result.quality).c_str());
  std::printf("wrote %s (%zu int8 modules)\n", options.out.c_str(), result.leaves.size());
  return 0;
}

}  // namespace

Action add_quantize_command(CLI::App& app) {
  auto options = std::make_shared<QuantizeOptions>();
  CLI::App* command = app.add_subcommand(
      "quantize", "Quantize a model to int8 (dynamic and/or static with calibration)");
  command->add_option("--model", options->model, "fp32 model folder (HF, SpeechBrain)")->required();
  command->add_option("--out", options->out, "Output folder (must not exist)")->required();
  command->add_option("--dynamic", options->dynamic_modules,
                      "Module name, prefix or glob to quantize dynamically (repeatable)");
  command->add_option("--static", options->static_modules,
                      "Module name, prefix or glob to quantize statically (repeatable)");
  command->add_option("--keep-fp32", options->fp32_modules, "Module to keep in fp32 (repeatable)");
  command->add_option("--recipe", options->recipe_file, "Recipe file (YAML or JSON)");
  command->add_option("--preset", options->preset, "tutorial | int8-all | dynamic");
  command->add_option("--calib", options->calib,
                      "Calibration audio: a folder of audio files or a dataset (manifest, CSV, "
                      "TSV, LibriSpeech tree)");
  command->add_option("--calib-n", options->calib_n, "Calibration utterances (default 10)");
  command->add_option("--seed", options->seed, "Seed for choosing calibration utterances");
  command->add_option("--observer", options->observer,
                      "minmax | moving_average_minmax | percentile | entropy | mse");
  command->add_option("--percentile", options->percentile, "For --observer percentile");
  command->add_flag("--per-tensor-weights", options->per_tensor_weights,
                    "One weight scale per module (PyTorch's default) instead of per channel");
  command->add_flag("--per-tensor-activations", options->per_tensor_activations,
                    "Dynamic: one activation scale per call instead of per row");
  command->add_option("--threads", options->threads, "Threads (default: all cores)");
  return [options] { return run_quantize(*options); };
}

}  // namespace quasr::cli
