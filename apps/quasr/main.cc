// quasr: post-training int8 quantization and fast CPU inference for
// wav2vec2-family CTC speech recognisers.
//
// Exit codes: 0 success, 1 a problem with an input (file, model, data),
// 2 bad command-line usage.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include <unistd.h>

#include "commands.h"
#include "core/error.h"

namespace {

// libgomp's default wait policy spins idle worker threads for a long time
// between parallel regions. The forward has hundreds of short regions: on a
// machine with other work (CI runners, shared servers) the spinners steal the
// cores the working threads need (a quantized large model loaded in 0.94 s
// spinning vs 0.44 s passive here), while sleeping at once (passive) makes a
// small model 2x slower on an idle machine (demo int8-all RTF 0.0022 vs
// 0.0078). A short spin (GOMP_SPINCOUNT=10000, a few microseconds) keeps both:
// demo int8-all 0.0024. libgomp reads its variables before main, so the
// process sets it and re-executes itself once; an explicit OMP_WAIT_POLICY or
// GOMP_SPINCOUNT is respected.
void default_to_short_spinning(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  setenv("GOMP_SPINCOUNT", "10000", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: run on as we are
}

}  // namespace

int main(int argc, char** argv) {
  default_to_short_spinning(argv);
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
