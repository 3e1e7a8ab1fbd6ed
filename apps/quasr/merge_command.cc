// quasr merge: exact corpus totals from the JSON results of shard runs
// (quasr bench --shard i/N), by summing counts, never averaging rates.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bench_outputs.h"
#include "commands.h"
#include "core/error.h"
#include "eval/run_result.h"

namespace quasr::cli {

namespace {

struct MergeOptions {
  std::vector<std::string> inputs;
  std::string json, report, plot;
  bool quiet = false;
};

// Shards of one evaluation differ only in --shard (and in settings that do
// not change what is scored, such as --threads or machine paths). Anything
// that changes the selection or the scoring makes their sum meaningless.
void check_same_evaluation(const std::vector<RunResult>& runs,
                           const std::vector<std::string>& inputs) {
  static const char* kKeys[] = {"format", "n", "shuffle", "seed", "normalize", "decoder", "names"};
  for (size_t k = 1; k < runs.size(); ++k) {
    for (const char* key : kKeys) {
      const nlohmann::json& first = runs[0].options;
      const nlohmann::json& other = runs[k].options;
      const nlohmann::json a = first.contains(key) ? first.at(key) : nlohmann::json();
      const nlohmann::json b = other.contains(key) ? other.at(key) : nlohmann::json();
      if (a != b) {
        throw Error(inputs[k] + ": option " + key + " = " + b.dump() + " differs from " + a.dump() +
                    " in " + inputs[0] + "; merge only shards of one evaluation");
      }
    }
  }
}

int run_merge(const MergeOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<RunResult> runs;
  for (const std::string& input : options.inputs) runs.push_back(read_run_file(input));
  check_same_evaluation(runs, options.inputs);
  RunResult merged = merge_runs(runs, options.inputs);
  // The shard option of the first input no longer describes the result.
  merged.options.erase("shard");
  merged.options["merged_inputs"] = options.inputs;
  write_outputs(merged, {options.json, options.report, options.plot});
  if (!options.quiet) std::fputs(markdown_table_text(merged).c_str(), stdout);
  print_final_line(
      merged, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return 0;
}

}  // namespace

Action add_merge_command(CLI::App& app) {
  auto o = std::make_shared<MergeOptions>();
  CLI::App* c =
      app.add_subcommand("merge", "Combine quasr bench --shard results into exact corpus totals");
  c->add_option("inputs", o->inputs, "Run JSON files of the shards (quasr bench --json)")
      ->required();
  c->add_option("--json", o->json, "Write the merged run JSON here")->required();
  c->add_option("--report", o->report, "Write the Markdown report here");
  c->add_option("--plot", o->plot, "Write the WER-vs-RTF SVG chart here");
  c->add_flag("--quiet", o->quiet, "No table on stdout; only the final line");
  return [o] { return run_merge(*o); };
}

}  // namespace quasr::cli
