// The measuring loop of quasr bench: one model at a time over the prepared
// utterances, with warm-up, timing, scoring, the per-utterance JSONL log and
// Ctrl-C handling. bench_command.cc does options, dataset and output files.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bench_progress.h"
#include "data/utterance.h"
#include "eval/result_files.h"
#include "eval/run_result.h"
#include "model/asr_model.h"

namespace quasr::cli {

// An utterance that passed validation, with its reference as scored.
struct BenchItem {
  Utterance utterance;
  std::string ref;        // after --normalize
  double probed_s = 0.0;  // duration from the audio header
};

struct ModelSpec {
  std::string name;  // unique label
  std::string path;  // folder as given
};

struct LoopSettings {
  int warmup = 10;               // utterances run first and not counted
  bool skip_bad = false;         // an utterance whose audio fails is skipped, not fatal
  bool normalize_basic = false;  // --normalize basic on the hypothesis
  int64_t interrupt_after = -1;  // test hook: raise SIGINT after this many new results
  model::AttentionChoice attention = model::AttentionChoice::kAuto;
  model::Fp32MatmulChoice fp32_matmul = model::Fp32MatmulChoice::kAuto;
  int64_t window_samples = 0;  // AsrModel::log_probs_windowed (0: never split)
  int64_t window_context_samples = 0;
  // Utterances run together (AsrModel::group_log_probs), in dataset order.
  int64_t batch_size = 1;
};

// The per-utterance JSONL log, opened on the first record so a run that fails
// before measuring anything leaves no file behind. A no-op without a path.
class ResultSink {
 public:
  explicit ResultSink(std::string path) : path_(std::move(path)) {}
  void add(const UtteranceResult& result);
  int64_t added() const { return added_; }

 private:
  std::string path_;
  std::unique_ptr<JsonlAppender> appender_;
  int64_t added_ = 0;
};

// Utterances that failed while running (after validation passed them), kept
// once per id so every later model leaves them out too.
struct FailedItems {
  std::set<std::string> ids;
  std::vector<SkippedItem> items;
};

struct ModelOutcome {
  ModelResult model;                        // fixed fields filled; totals left to finalize_run
  std::vector<UtteranceResult> utterances;  // measured in this process
  bool interrupted = false;
};

// Loads the model (timed), warms it up on the first settings.warmup items
// that still need it, then measures every item whose id is not in `done`.
// Resets the process peak-RSS counter first where Linux allows, so
// peak_rss_bytes is this model's own peak.
ModelOutcome bench_model(const ModelSpec& spec, const std::vector<BenchItem>& items,
                         const std::set<std::string>& done, const LoopSettings& settings,
                         ResultSink& sink, ProgressLine& progress, FailedItems& failed);

// SIGINT sets a flag the loop checks between utterances; the handler resets
// itself, so a second Ctrl-C ends the process at once. Restores the previous
// handler on destruction.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  static bool interrupted();
};

}  // namespace quasr::cli
