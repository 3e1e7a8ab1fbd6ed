#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "model/asr_model.h"

namespace quasr::cli {

namespace {

struct InspectOptions {
  std::string model;
  bool json = false;
};

const char* format_name(model::CheckpointFormat format) {
  return format == model::CheckpointFormat::kSpeechBrain ? "speechbrain" : "huggingface";
}

nlohmann::json modules_json(const model::AsrModel& model) {
  nlohmann::json modules = nlohmann::json::array();
  for (const model::ModuleInfo& module : model.modules()) {
    nlohmann::json params = nlohmann::json::array();
    for (const model::ParamInfo& param : module.params)
      params.push_back({{"name", param.name}, {"shape", param.shape}, {"dtype", param.dtype}});
    modules.push_back({{"name", module.name},
                       {"type", module.type},
                       {"parameters", module.parameter_count()},
                       {"scheme", module.scheme},
                       {"params", params}});
  }
  return modules;
}

int run_inspect(const InspectOptions& options) {
  std::unique_ptr<model::AsrModel> model = model::load_model(options.model);
  int64_t total = 0;
  for (const model::ModuleInfo& module : model->modules()) total += module.parameter_count();
  if (options.json) {
    nlohmann::json out{{"model", options.model},
                       {"format", format_name(model->format())},
                       {"config", model->config().to_json()},
                       {"vocab_size", model->vocab_size()},
                       {"blank_id", model->tokenizer().blank_id()},
                       {"total_parameters", total},
                       {"modules", modules_json(*model)}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("model: %s (%s, %s)\n", options.model.c_str(), format_name(model->format()),
              model->config().model_type.c_str());
  std::printf("%-64s %-12s %-22s %12s  %s\n", "module", "type", "weight shape", "parameters",
              "scheme");
  for (const model::ModuleInfo& module : model->modules()) {
    std::string shape = module.params.empty() ? "-" : shape_to_string(module.params[0].shape);
    std::printf("%-64s %-12s %-22s %12lld  %s\n", module.name.c_str(), module.type.c_str(),
                shape.c_str(), static_cast<long long>(module.parameter_count()),
                module.scheme.c_str());
  }
  std::printf("total parameters: %lld\n", static_cast<long long>(total));
  return 0;
}

}  // namespace

Action add_inspect_command(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* command = app.add_subcommand("inspect", "Print the module tree of a model");
  command->add_option("--model", options->model, "Model folder")->required();
  command->add_flag("--json", options->json, "Print JSON instead of a table");
  return [options] { return run_inspect(*options); };
}

}  // namespace quasr::cli
