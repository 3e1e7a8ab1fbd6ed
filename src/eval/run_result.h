// The result of one bench run: plain structs the bench CLI fills, their JSON
// form (bench/schema/bench-result.schema.json) and the merge of shard runs.
//
// Totals are never filled by hand: the CLI appends one UtteranceResult per
// (model, utterance) and calls finalize_model(), which derives every total
// and percentile from the utterance list. merge_runs() concatenates the
// utterance lists of shard runs and calls finalize_model() again, so a merged
// run equals an unsharded one exactly (counts, sums and percentiles).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/edit_distance.h"
#include "eval/timing_stats.h"

namespace quasr {

inline constexpr int kBenchSchemaVersion = 1;

// One model on one utterance: also the record of the per-utterance JSONL file.
struct UtteranceResult {
  std::string model;       // ModelResult::name
  std::string id;          // Utterance::id
  int64_t index = 0;       // position in the ordered dataset before sharding
  double audio_s = 0.0;    // audio duration in seconds
  double encoder_s = 0.0;  // encoder forward time (the tutorial's RTF numerator)
  double e2e_s = 0.0;      // audio decode + resample + encoder + decode
  std::map<std::string, double>
      component_s;    // e.g. "audio_decode", "resample", "encoder", "decode"
  std::string ref;    // reference text as scored (after normalisation)
  std::string hyp;    // hypothesis text as scored
  ErrorCounts words;  // sentences == 1
  ErrorCounts chars;
  std::vector<AlignedPair> alignment;  // word alignment
  bool operator==(const UtteranceResult&) const = default;
};

// Scores ref/hyp into result.words, result.chars and result.alignment.
void score_utterance(UtteranceResult& result);

struct ModelResult {
  // Filled by the CLI.
  std::string name;            // label in reports; unique within a run
  std::string path;            // model directory as given
  std::string kind;            // free text, e.g. "fp32", "int8-dynamic"
  double load_s = 0.0;         // model load time
  int64_t file_bytes = 0;      // on-disk size of the model files
  int64_t peak_rss_bytes = 0;  // process peak RSS after this model ran (read_peak_rss_bytes)
  std::map<std::string, int64_t> param_bytes_by_dtype;  // e.g. {"f32": .., "s8": ..}
  // Derived by finalize_model() from the run's utterances of this model.
  ErrorCounts wer;
  ErrorCounts cer;
  int64_t utterances = 0;
  double audio_s = 0.0;                       // total audio seconds
  double encoder_s = 0.0;                     // total encoder seconds
  double e2e_s = 0.0;                         // total end-to-end seconds
  double rtf = 0.0;                           // encoder_s / audio_s
  double e2e_rtf = 0.0;                       // e2e_s / audio_s
  double rtfx = 0.0;                          // 1 / rtf
  LatencyPercentiles latency_s;               // per-utterance e2e_s
  LatencyPercentiles encoder_latency_s;       // per-utterance encoder_s
  std::map<std::string, double> component_s;  // totals of UtteranceResult::component_s
  bool operator==(const ModelResult&) const = default;
};

struct MachineInfo {
  std::string cpu_model;  // cpu_model_name()
  std::string isa;        // isa_name(isa_level())
  int threads = 0;
  std::string hostname;
  bool operator==(const MachineInfo&) const = default;
};

struct DatasetInfo {
  std::string path;
  std::string format;      // "librispeech", "csv", "jsonl", "tsv"
  int64_t utterances = 0;  // evaluated in this run (after --n, shard, skip-bad)
  double audio_s = 0.0;    // their total duration when known
  int shard_index = 0;     // --shard i/N; 0/1 when unsharded or merged
  int shard_count = 1;
  bool operator==(const DatasetInfo&) const = default;
};

struct SkippedItem {
  std::string id;
  std::string source;  // file:line
  std::string reason;
  bool operator==(const SkippedItem&) const = default;
};

struct RunResult {
  int schema_version = kBenchSchemaVersion;
  std::string quasr_version;
  std::string quasr_commit;
  std::string created_utc;  // ISO 8601, e.g. 2026-11-27T10:00:00Z
  MachineInfo machine;
  DatasetInfo dataset;
  nlohmann::json options = nlohmann::json::object();  // CLI options as given
  std::vector<ModelResult> models;                    // models[0] is the baseline
  std::vector<UtteranceResult> utterances;            // all models; ordered by (model order, index)
  std::vector<SkippedItem> skipped;
  int merged_from = 1;  // number of shard runs merged into this one
  bool operator==(const RunResult&) const = default;
};

// Recomputes model's derived fields from the utterances whose .model equals
// model.name. Sums run in (index, id) order so the result does not depend on
// the order utterances completed or were merged in.
void finalize_model(ModelResult& model, const std::vector<UtteranceResult>& utterances);
// finalize_model for every model, after sorting run.utterances by (model order, index, id).
void finalize_run(RunResult& run);

// JSON form. NaN/inf doubles become null and read back as NaN.
nlohmann::json to_json(const UtteranceResult& utterance);
nlohmann::json to_json(const ModelResult& model);
nlohmann::json to_json(const RunResult& run);
// Throw quasr::Error naming `where` and the offending key on a missing or
// mistyped field.
UtteranceResult utterance_from_json(const nlohmann::json& json, const std::string& where);
ModelResult model_from_json(const nlohmann::json& json, const std::string& where);
RunResult run_from_json(const nlohmann::json& json, const std::string& where);

// Reads a run JSON file (throws quasr::Error naming the file on I/O or parse errors).
RunResult read_run_file(const std::string& path);
// Writes the run atomically (temp file + rename in the same folder), 2-space indent.
void write_run_file(const std::string& path, const RunResult& run);

// Combines shard runs into exact totals: utterances and skipped lists are
// concatenated, models matched by name (order of the first run), per-model
// fixed fields (path, sizes, param bytes) from the first run that has the
// model, load_s the mean and peak_rss_bytes the max over shards, then
// finalize_run(). Throws quasr::Error (naming `names[k]` when given) if a
// (model, id) pair occurs twice, or schema versions differ.
RunResult merge_runs(const std::vector<RunResult>& runs,
                     const std::vector<std::string>& names = {});

}  // namespace quasr
