// merge_runs(): exact corpus totals from shard runs.
#include <algorithm>
#include <set>
#include <utility>

#include "core/error.h"
#include "eval/run_result.h"

namespace quasr {
namespace {

std::string run_name(const std::vector<std::string>& names, size_t k) {
  return k < names.size() ? names[k] : "run #" + std::to_string(k + 1);
}

// Shards must be i/N for distinct i covering 0..N-1, or all unsharded.
void check_shards(const std::vector<RunResult>& runs, const std::vector<std::string>& names) {
  const int count = runs.front().dataset.shard_count;
  std::set<int> seen;
  for (size_t k = 0; k < runs.size(); ++k) {
    const DatasetInfo& d = runs[k].dataset;
    if (d.shard_count != count) {
      throw Error(run_name(names, k) + ": shard count " + std::to_string(d.shard_count) +
                  " differs from " + std::to_string(count) + " in " + run_name(names, 0));
    }
    if (count > 1 && !seen.insert(d.shard_index).second) {
      throw Error(run_name(names, k) + ": shard " + std::to_string(d.shard_index) + "/" +
                  std::to_string(count) + " is given twice");
    }
  }
  if (count > 1 && static_cast<int>(seen.size()) != count) {
    std::string missing;
    for (int i = 0; i < count; ++i) {
      if (!seen.count(i)) missing += (missing.empty() ? "" : ", ") + std::to_string(i);
    }
    throw Error("merge: shards " + missing + " of " + std::to_string(count) +
                " are missing; totals would not cover the dataset");
  }
}

}  // namespace

RunResult merge_runs(const std::vector<RunResult>& runs, const std::vector<std::string>& names) {
  if (runs.empty()) throw Error("merge: no runs given");
  check_shards(runs, names);
  RunResult merged = runs.front();
  merged.models.clear();
  merged.utterances.clear();
  merged.skipped.clear();
  merged.merged_from = 0;
  merged.dataset.utterances = 0;
  merged.dataset.audio_s = 0.0;
  merged.dataset.shard_index = 0;
  merged.dataset.shard_count = 1;

  std::map<std::string, size_t> model_slot;
  std::map<std::string, int> load_samples;
  std::set<std::pair<std::string, std::string>> seen;
  for (size_t k = 0; k < runs.size(); ++k) {
    const RunResult& run = runs[k];
    if (run.schema_version != merged.schema_version) {
      throw Error(run_name(names, k) + ": schema_version " + std::to_string(run.schema_version) +
                  " differs from " + std::to_string(merged.schema_version));
    }
    merged.merged_from += run.merged_from;
    merged.dataset.utterances += run.dataset.utterances;
    merged.dataset.audio_s += run.dataset.audio_s;
    for (const ModelResult& model : run.models) {
      auto [it, added] = model_slot.emplace(model.name, merged.models.size());
      if (added) {
        merged.models.push_back(model);
        merged.models.back().load_s = 0.0;
        merged.models.back().peak_rss_bytes = 0;
      }
      ModelResult& target = merged.models[it->second];
      target.load_s += model.load_s;
      ++load_samples[model.name];
      target.peak_rss_bytes = std::max(target.peak_rss_bytes, model.peak_rss_bytes);
    }
    for (const UtteranceResult& u : run.utterances) {
      if (!seen.emplace(u.model, u.id).second) {
        throw Error(run_name(names, k) + ": utterance " + u.id + " of model " + u.model +
                    " is also in another run; shards must not overlap");
      }
      merged.utterances.push_back(u);
    }
    merged.skipped.insert(merged.skipped.end(), run.skipped.begin(), run.skipped.end());
  }
  for (ModelResult& model : merged.models) model.load_s /= load_samples[model.name];
  finalize_run(merged);
  return merged;
}

}  // namespace quasr
