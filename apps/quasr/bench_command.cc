// quasr bench: WER/CER/RTF of one or more models on the same utterances.
//
// Order of work: validate options and the whole selected dataset (nothing is
// timed or written before a bad row is reported), then each model in turn
// (bench_runner.cc), then the run JSON, report and chart, each written
// atomically. Per-utterance results go to --results as they complete, which
// is what --resume and an interrupted run rely on.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "audio/audio.h"
#include "bench_info.h"
#include "bench_outputs.h"
#include "bench_progress.h"
#include "bench_runner.h"
#include "commands.h"
#include "core/error.h"
#include "data/dataset.h"
#include "eval/result_files.h"
#include "kernels/dnnl_runtime.h"
#include "precision_options.h"
#include "text/normalize.h"
#include "window_options.h"

namespace quasr::cli {

namespace {

namespace fs = std::filesystem;

// Exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
constexpr int kInterruptedExit = 130;

struct BenchOptions {
  std::vector<std::string> models;
  std::vector<std::string> names;
  std::string data;
  std::string format = "auto";
  std::string data_root;
  int64_t n = -1;
  bool shuffle = false;
  uint64_t seed = 0;
  std::string shard = "0/1";
  int warmup = 10;
  int threads = 0;
  int64_t batch_size = 1;
  std::string attention = "auto";
  std::string fp32_matmul = "auto";
  WindowOptions window;
  std::string decoder = "greedy";
  std::string normalize = "none";
  std::string json, report, plot, results;
  bool resume = false;
  bool skip_bad = false;
  bool quiet = false;
};

std::vector<ModelSpec> model_specs(const BenchOptions& options) {
  if (!options.names.empty() && options.names.size() != options.models.size()) {
    throw Error("--name: given " + std::to_string(options.names.size()) + " times for " +
                std::to_string(options.models.size()) + " --model folders; give one per model");
  }
  std::vector<ModelSpec> specs;
  std::set<std::string> used;
  for (size_t k = 0; k < options.models.size(); ++k) {
    const std::string& path = options.models[k];
    if (!fs::is_directory(path)) throw Error("--model " + path + ": not a folder");
    std::string name = options.names.empty() ? default_model_name(path) : options.names[k];
    if (!options.names.empty() && used.count(name)) {
      throw Error("--name " + name + ": used for two models; names must be unique");
    }
    // Two folders with the same last component get "#2", "#3", ...
    for (int suffix = 2; used.count(name); ++suffix) {
      name = default_model_name(path) + "#" + std::to_string(suffix);
    }
    used.insert(name);
    specs.push_back({name, path});
  }
  return specs;
}

DatasetOptions dataset_options(const BenchOptions& options) {
  DatasetOptions d;
  d.format = parse_dataset_format(options.format);
  d.data_root = options.data_root;
  if (d.data_root.empty()) d.data_root = fs::path(options.data).parent_path().string();
  d.shuffle = options.shuffle;
  d.seed = options.seed;
  d.n = options.n;
  d.shard = parse_shard(options.shard);
  d.skip_bad = options.skip_bad;
  return d;
}

// Second validation pass over what load_dataset accepted: the audio header
// must open and hold samples, and the reference must survive normalisation.
std::vector<BenchItem> prepare_items(Dataset& dataset, const BenchOptions& options) {
  std::vector<BenchItem> items;
  std::string first_error;
  size_t bad = 0;
  for (Utterance& u : dataset.utterances) {
    BenchItem item;
    std::string reason;
    try {
      AudioInfo info = probe_audio(u.audio_path);
      item.probed_s = info.duration_s;
      if (info.frames <= 0) reason = "audio file has no samples: " + u.audio_path;
    } catch (const Error& e) {
      reason = e.what();
    }
    item.ref = options.normalize == "basic" ? normalize_basic(u.text) : u.text;
    if (reason.empty() && item.ref.empty()) reason = "transcript is empty after --normalize basic";
    if (reason.empty()) {
      item.utterance = std::move(u);
      items.push_back(std::move(item));
      continue;
    }
    if (bad++ == 0) first_error = u.source + ": " + u.id + ": " + reason;
    dataset.skipped.push_back({u.id, u.source, reason});
  }
  if (bad > 0 && !options.skip_bad) {
    throw Error(first_error + (bad > 1 ? " (and " + std::to_string(bad - 1) + " more bad)" : "") +
                "; fix the dataset or pass --skip-bad");
  }
  return items;
}

// Results of an earlier run of the same command that --resume keeps: only
// pairs of this run's models and selection, and only when scored against the
// same reference (a changed --normalize or dataset would mix two runs).
std::vector<UtteranceResult> resumed_results(const BenchOptions& options,
                                             const std::vector<ModelSpec>& specs,
                                             const std::vector<BenchItem>& items) {
  if (!options.resume) return {};
  std::map<std::string, const BenchItem*> by_id;
  for (const BenchItem& item : items) by_id[item.utterance.id] = &item;
  std::set<std::string> names;
  for (const ModelSpec& spec : specs) names.insert(spec.name);
  std::vector<UtteranceResult> kept;
  for (UtteranceResult& r : load_utterance_jsonl(options.results).records) {
    auto it = by_id.find(r.id);
    if (!names.count(r.model) || it == by_id.end()) continue;
    if (r.ref != it->second->ref || r.index != it->second->utterance.index) {
      throw Error(options.results + ": utterance " + r.id + " was scored against a different " +
                  "reference or dataset order; --resume needs the same --data, --n, --shuffle, " +
                  "--seed and --normalize");
    }
    kept.push_back(std::move(r));
  }
  return kept;
}

nlohmann::json options_json(const BenchOptions& o, const std::vector<ModelSpec>& specs) {
  nlohmann::json names = nlohmann::json::array();
  for (const ModelSpec& spec : specs) names.push_back(spec.name);
  return {{"models", o.models},
          {"names", names},
          {"data", o.data},
          {"format", o.format},
          {"data_root", o.data_root},
          {"n", o.n},
          {"shuffle", o.shuffle},
          {"seed", o.seed},
          {"shard", o.shard},
          {"warmup", o.warmup},
          {"threads", o.threads},
          {"batch_size", o.batch_size},
          {"decoder", o.decoder},
          {"attention", o.attention},
          {"normalize", o.normalize},
          {"skip_bad", o.skip_bad},
          {"resume", o.resume},
          {"fp32_matmul", o.fp32_matmul},
          {"max_window_seconds", o.window.max_seconds},
          {"window_context_seconds", o.window.context_seconds}};
}

int64_t interrupt_hook() {
  // Test-only: makes the run interrupt itself after N new results, so the
  // Ctrl-C path can be tested without racing a real signal.
  const char* value = std::getenv("QUASR_BENCH_INTERRUPT_AFTER");
  return value ? std::atoll(value) : -1;
}

// Everything but the per-model fixed fields, then the derived totals. Results
// of utterances that failed later in the run are dropped so that every model
// is scored on the same set.
void fill_run(RunResult& run, const BenchOptions& options, const std::vector<ModelSpec>& specs,
              const Dataset& dataset, const std::vector<BenchItem>& items,
              const FailedItems& failed, std::vector<UtteranceResult> results) {
  const ShardSpec shard = parse_shard(options.shard);
  run.quasr_version = quasr_version();
  run.quasr_commit = quasr_commit();
  run.created_utc = utc_now_iso8601();
  run.machine = machine_info(kernels::num_threads());
  run.dataset.path = options.data;
  run.dataset.format = dataset_format_name(dataset.format);
  run.dataset.shard_index = shard.index;
  run.dataset.shard_count = shard.count;
  run.options = options_json(options, specs);
  for (const SkippedUtterance& s : dataset.skipped)
    run.skipped.push_back({s.id, s.source, s.reason});
  run.skipped.insert(run.skipped.end(), failed.items.begin(), failed.items.end());
  for (const BenchItem& item : items) {
    if (failed.ids.count(item.utterance.id)) continue;
    ++run.dataset.utterances;
    run.dataset.audio_s += item.probed_s;
  }
  std::erase_if(results, [&](const UtteranceResult& r) { return failed.ids.count(r.id) > 0; });
  run.utterances = std::move(results);
  finalize_run(run);
}

int run_bench(const BenchOptions& options) {
  if (options.resume && options.results.empty()) {
    throw Error("--resume: needs --results FILE.jsonl (the log of the run to continue)");
  }
  if (!options.results.empty() && !options.resume && fs::exists(options.results)) {
    throw Error("--results " + options.results +
                ": already exists; pass --resume to continue that run, or remove it");
  }
  check_window_options(options.window);
  const std::vector<ModelSpec> specs = model_specs(options);
  kernels::set_num_threads(options.threads);

  const DatasetOptions d_options = dataset_options(options);
  Dataset dataset = load_dataset(options.data, d_options);
  const std::vector<BenchItem> items = prepare_items(dataset, options);
  std::vector<UtteranceResult> results = resumed_results(options, specs, items);

  LoopSettings settings;
  settings.warmup = options.warmup;
  settings.attention = model::parse_attention_choice(options.attention, "--attention");
  settings.fp32_matmul = model::parse_fp32_matmul_choice(options.fp32_matmul, "--fp32-matmul");
  settings.window_samples = options.window.max_samples();
  settings.window_context_samples = options.window.context_samples();
  settings.batch_size = options.batch_size;
  settings.skip_bad = options.skip_bad;
  settings.normalize_basic = options.normalize == "basic";
  settings.interrupt_after = interrupt_hook();
  ResultSink sink(options.results);
  ProgressLine progress(!options.quiet && stderr_is_tty());
  FailedItems failed;
  InterruptGuard guard;
  const auto started = std::chrono::steady_clock::now();

  RunResult run;
  for (const ModelSpec& spec : specs) {
    ModelOutcome outcome =
        bench_model(spec, items, done_ids(results, spec.name), settings, sink, progress, failed);
    run.models.push_back(std::move(outcome.model));
    for (UtteranceResult& r : outcome.utterances) results.push_back(std::move(r));
    if (outcome.interrupted) {
      std::fprintf(stderr, "quasr: interrupted after %lld new results%s\n",
                   static_cast<long long>(sink.added()),
                   options.results.empty()
                       ? " (no --results file, nothing kept)"
                       : ("; kept in " + options.results + ", rerun with --resume").c_str());
      return kInterruptedExit;
    }
  }

  fill_run(run, options, specs, dataset, items, failed, std::move(results));

  write_outputs(run, {options.json, options.report, options.plot});
  if (!options.quiet) std::fputs(markdown_table_text(run).c_str(), stdout);
  print_final_line(
      run, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return 0;
}

}  // namespace

Action add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* c = app.add_subcommand(
      "bench", "WER/CER, RTF and latency of one or more models on the same utterances");
  c->add_option("--model", o->models, "Model folder; repeat to compare (the first is the baseline)")
      ->required();
  c->add_option("--name", o->names, "Display name per --model, in the same order");
  c->add_option("--data", o->data,
                "Dataset: LibriSpeech folder, SpeechBrain .csv, .jsonl manifest or .tsv")
      ->required();
  c->add_option("--format", o->format, "Dataset layout (default: detected from --data)")
      ->check(CLI::IsMember({"auto", "librispeech", "csv", "jsonl", "tsv"}));
  c->add_option("--data-root", o->data_root,
                "Value of $data_root in a SpeechBrain CSV (default: the CSV's folder)");
  c->add_option("--n", o->n, "Evaluate only the first N utterances (after --shuffle)")
      ->check(CLI::NonNegativeNumber);
  c->add_flag("--shuffle", o->shuffle, "Shuffle the dataset order first (deterministic)");
  c->add_option("--seed", o->seed, "Seed for --shuffle");
  c->add_option("--shard", o->shard, "Evaluate shard i of N (0-based i/N); combine with merge");
  c->add_option("--warmup", o->warmup, "Utterances run untimed first, per model")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--threads", o->threads, "Threads (default: all cores)");
  c->add_option("--batch-size", o->batch_size,
                "Utterances run together, in dataset order: one transformer pass for each group, "
                "every result as if run alone; each utterance is charged the group's encoder "
                "time by its share of the audio (default 1)")
      ->check(CLI::PositiveNumber);
  add_precision_options(c, &o->attention, &o->fp32_matmul);
  add_window_options(c, &o->window);
  c->add_option("--decoder", o->decoder, "CTC decoder")->check(CLI::IsMember({"greedy"}));
  c->add_option("--normalize", o->normalize,
                "Text normalisation of reference and hypothesis before scoring")
      ->check(CLI::IsMember({"none", "basic"}));
  c->add_option("--json", o->json, "Write the run result JSON here");
  c->add_option("--report", o->report, "Write the Markdown report here");
  c->add_option("--plot", o->plot, "Write the WER-vs-RTF SVG chart here");
  c->add_option("--results", o->results,
                "Append each per-utterance result to this JSONL file as it completes");
  c->add_flag("--resume", o->resume, "Skip what --results already holds and continue");
  c->add_flag("--skip-bad", o->skip_bad,
              "Skip unusable utterances (listed in the report) instead of stopping");
  c->add_flag("--quiet", o->quiet, "No progress and no table on stdout; only the final line");
  return [o] { return run_bench(*o); };
}

}  // namespace quasr::cli
