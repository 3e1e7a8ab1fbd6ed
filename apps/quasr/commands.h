// Subcommands of the quasr CLI. Each registers its options on the app and
// returns the function to run when it is chosen.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace quasr::cli {

using Action = std::function<int()>;

Action add_transcribe_command(CLI::App& app);
Action add_inspect_command(CLI::App& app);
Action add_bench_command(CLI::App& app);
Action add_merge_command(CLI::App& app);
Action add_quantize_command(CLI::App& app);

}  // namespace quasr::cli
