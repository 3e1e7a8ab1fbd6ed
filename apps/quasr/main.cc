// quasr: post-training int8 quantization and fast CPU inference for
// wav2vec2-family CTC speech recognisers.
//
// Exit codes: 0 success, 1 a problem with an input (file, model, data),
// 2 bad command-line usage.
#include <cstdio>
#include <map>
#include <string>

#include "commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"quasr: int8 quantization and fast CPU inference for wav2vec2 CTC models"};
  app.require_subcommand(1);
  std::map<CLI::App*, quasr::cli::Action> actions;
  auto add = [&](quasr::cli::Action (*registrar)(CLI::App&)) {
    size_t before = app.get_subcommands({}).size();
    quasr::cli::Action action = registrar(app);
    actions[app.get_subcommands({})[before]] = action;
  };
  add(quasr::cli::add_transcribe_command);
  add(quasr::cli::add_inspect_command);
  add(quasr::cli::add_bench_command);
  add(quasr::cli::add_merge_command);
  add(quasr::cli::add_quantize_command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    for (auto& [command, action] : actions)
      if (command->parsed()) return action();
  } catch (const quasr::Error& e) {
    std::fprintf(stderr, "quasr: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quasr: internal error: %s\n", e.what());
    return 1;
  }
  return 2;
}
