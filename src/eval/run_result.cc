#include "eval/run_result.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "core/error.h"
#include "eval/result_files.h"

namespace quasr {
namespace {

using nlohmann::json;

json number_or_null(double value) {
  return std::isfinite(value) ? json(value) : json(nullptr);
}

const json& field(const json& object, const char* key, const std::string& where) {
  if (!object.is_object()) throw Error(where + ": expected a JSON object");
  const auto it = object.find(key);
  if (it == object.end()) throw Error(where + ": missing key '" + key + "'");
  return *it;
}

double get_double(const json& object, const char* key, const std::string& where) {
  const json& value = field(object, key, where);
  if (value.is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (!value.is_number()) throw Error(where + ": '" + key + "' must be a number or null");
  return value.get<double>();
}

int64_t get_int(const json& object, const char* key, const std::string& where) {
  const json& value = field(object, key, where);
  if (!value.is_number_integer()) throw Error(where + ": '" + key + "' must be an integer");
  return value.get<int64_t>();
}

std::string get_string(const json& object, const char* key, const std::string& where) {
  const json& value = field(object, key, where);
  if (!value.is_string()) throw Error(where + ": '" + key + "' must be a string");
  return value.get<std::string>();
}

template <typename T>
std::map<std::string, T> get_map(const json& object, const char* key, const std::string& where) {
  const json& value = field(object, key, where);
  if (!value.is_object()) throw Error(where + ": '" + key + "' must be an object");
  std::map<std::string, T> result;
  for (const auto& [name, number] : value.items()) {
    if (!number.is_number()) throw Error(where + ": '" + key + "." + name + "' must be a number");
    result[name] = number.template get<T>();
  }
  return result;
}

json counts_to_json(const ErrorCounts& c) {
  return {{"ref_tokens", c.ref_words},
          {"hyp_tokens", c.hyp_words},
          {"ins", c.ins},
          {"del", c.del},
          {"sub", c.sub},
          {"correct", c.correct},
          {"sentences", c.sentences},
          {"sentences_with_error", c.sentences_with_error},
          {"error_rate", number_or_null(c.wer())}};
}

ErrorCounts counts_from_json(const json& j, const std::string& where) {
  ErrorCounts c;
  c.ref_words = get_int(j, "ref_tokens", where);
  c.hyp_words = get_int(j, "hyp_tokens", where);
  c.ins = get_int(j, "ins", where);
  c.del = get_int(j, "del", where);
  c.sub = get_int(j, "sub", where);
  c.correct = get_int(j, "correct", where);
  c.sentences = get_int(j, "sentences", where);
  c.sentences_with_error = get_int(j, "sentences_with_error", where);
  return c;
}

json latency_to_json(const LatencyPercentiles& p) {
  return {{"p50", number_or_null(p.p50)},
          {"p90", number_or_null(p.p90)},
          {"p99", number_or_null(p.p99)},
          {"mean", number_or_null(p.mean)},
          {"max", number_or_null(p.max)}};
}

LatencyPercentiles latency_from_json(const json& j, const std::string& where) {
  return {get_double(j, "p50", where), get_double(j, "p90", where), get_double(j, "p99", where),
          get_double(j, "mean", where), get_double(j, "max", where)};
}

bool utterance_order(const UtteranceResult& a, const UtteranceResult& b) {
  return a.index != b.index ? a.index < b.index : a.id < b.id;
}

}  // namespace

void score_utterance(UtteranceResult& result) {
  Alignment words = align_words(result.ref, result.hyp, /*keep_pairs=*/true);
  result.words = words.counts;
  result.alignment = std::move(words.pairs);
  result.chars = align_chars(result.ref, result.hyp, /*keep_pairs=*/false).counts;
}

void finalize_model(ModelResult& model, const std::vector<UtteranceResult>& utterances) {
  std::vector<const UtteranceResult*> mine;
  for (const UtteranceResult& u : utterances) {
    if (u.model == model.name) mine.push_back(&u);
  }
  std::sort(mine.begin(), mine.end(), [](const UtteranceResult* a, const UtteranceResult* b) {
    return utterance_order(*a, *b);
  });
  model.wer = {};
  model.cer = {};
  model.audio_s = model.encoder_s = model.e2e_s = 0.0;
  model.component_s.clear();
  std::vector<double> e2e;
  std::vector<double> encoder;
  for (const UtteranceResult* u : mine) {
    model.wer += u->words;
    model.cer += u->chars;
    model.audio_s += u->audio_s;
    model.encoder_s += u->encoder_s;
    model.e2e_s += u->e2e_s;
    for (const auto& [name, seconds] : u->component_s) model.component_s[name] += seconds;
    e2e.push_back(u->e2e_s);
    encoder.push_back(u->encoder_s);
  }
  model.utterances = static_cast<int64_t>(mine.size());
  model.rtf = real_time_factor(model.encoder_s, model.audio_s);
  model.e2e_rtf = real_time_factor(model.e2e_s, model.audio_s);
  model.rtfx = inverse_rtf(model.rtf);
  model.latency_s = latency_percentiles(e2e);
  model.encoder_latency_s = latency_percentiles(encoder);
}

void finalize_run(RunResult& run) {
  std::map<std::string, size_t> model_rank;
  for (size_t m = 0; m < run.models.size(); ++m) model_rank.emplace(run.models[m].name, m);
  const auto rank = [&](const std::string& name) {
    const auto it = model_rank.find(name);
    return it == model_rank.end() ? run.models.size() : it->second;
  };
  std::stable_sort(run.utterances.begin(), run.utterances.end(),
                   [&](const UtteranceResult& a, const UtteranceResult& b) {
                     const size_t ra = rank(a.model), rb = rank(b.model);
                     return ra != rb ? ra < rb : utterance_order(a, b);
                   });
  for (ModelResult& model : run.models) finalize_model(model, run.utterances);
}

json to_json(const UtteranceResult& u) {
  json alignment = json::array();
  for (const AlignedPair& p : u.alignment)
    alignment.push_back({std::string(1, p.op), p.ref, p.hyp});
  return {{"model", u.model},
          {"id", u.id},
          {"index", u.index},
          {"audio_s", number_or_null(u.audio_s)},
          {"encoder_s", number_or_null(u.encoder_s)},
          {"e2e_s", number_or_null(u.e2e_s)},
          {"component_s", u.component_s},
          {"ref", u.ref},
          {"hyp", u.hyp},
          {"words", counts_to_json(u.words)},
          {"chars", counts_to_json(u.chars)},
          {"alignment", alignment}};
}

UtteranceResult utterance_from_json(const json& j, const std::string& where) {
  UtteranceResult u;
  u.model = get_string(j, "model", where);
  u.id = get_string(j, "id", where);
  const std::string here = where + " (utterance " + u.id + ")";
  u.index = get_int(j, "index", here);
  u.audio_s = get_double(j, "audio_s", here);
  u.encoder_s = get_double(j, "encoder_s", here);
  u.e2e_s = get_double(j, "e2e_s", here);
  u.component_s = get_map<double>(j, "component_s", here);
  u.ref = get_string(j, "ref", here);
  u.hyp = get_string(j, "hyp", here);
  u.words = counts_from_json(field(j, "words", here), here + " words");
  u.chars = counts_from_json(field(j, "chars", here), here + " chars");
  const json& alignment = field(j, "alignment", here);
  if (!alignment.is_array()) throw Error(here + ": 'alignment' must be an array");
  for (const json& step : alignment) {
    const bool ok = step.is_array() && step.size() == 3 && step[0].is_string() &&
                    step[0].get<std::string>().size() == 1 && step[1].is_string() &&
                    step[2].is_string() &&
                    std::string("CSDI").find(step[0].get<std::string>()[0]) != std::string::npos;
    if (!ok)
      throw Error(here + ": alignment step must be [\"C|S|D|I\", ref, hyp], got " + step.dump());
    u.alignment.push_back(
        {step[0].get<std::string>()[0], step[1].get<std::string>(), step[2].get<std::string>()});
  }
  return u;
}

json to_json(const ModelResult& m) {
  return {{"name", m.name},
          {"path", m.path},
          {"kind", m.kind},
          {"load_s", number_or_null(m.load_s)},
          {"file_bytes", m.file_bytes},
          {"peak_rss_bytes", m.peak_rss_bytes},
          {"param_bytes_by_dtype", m.param_bytes_by_dtype},
          {"wer", counts_to_json(m.wer)},
          {"cer", counts_to_json(m.cer)},
          {"utterances", m.utterances},
          {"audio_s", number_or_null(m.audio_s)},
          {"encoder_s", number_or_null(m.encoder_s)},
          {"e2e_s", number_or_null(m.e2e_s)},
          {"rtf", number_or_null(m.rtf)},
          {"e2e_rtf", number_or_null(m.e2e_rtf)},
          {"rtfx", number_or_null(m.rtfx)},
          {"latency_s", latency_to_json(m.latency_s)},
          {"encoder_latency_s", latency_to_json(m.encoder_latency_s)},
          {"component_s", m.component_s}};
}

ModelResult model_from_json(const json& j, const std::string& where) {
  ModelResult m;
  m.name = get_string(j, "name", where);
  const std::string here = where + " (model " + m.name + ")";
  m.path = get_string(j, "path", here);
  m.kind = get_string(j, "kind", here);
  m.load_s = get_double(j, "load_s", here);
  m.file_bytes = get_int(j, "file_bytes", here);
  m.peak_rss_bytes = get_int(j, "peak_rss_bytes", here);
  m.param_bytes_by_dtype = get_map<int64_t>(j, "param_bytes_by_dtype", here);
  m.wer = counts_from_json(field(j, "wer", here), here + " wer");
  m.cer = counts_from_json(field(j, "cer", here), here + " cer");
  m.utterances = get_int(j, "utterances", here);
  m.audio_s = get_double(j, "audio_s", here);
  m.encoder_s = get_double(j, "encoder_s", here);
  m.e2e_s = get_double(j, "e2e_s", here);
  m.rtf = get_double(j, "rtf", here);
  m.e2e_rtf = get_double(j, "e2e_rtf", here);
  m.rtfx = get_double(j, "rtfx", here);
  m.latency_s = latency_from_json(field(j, "latency_s", here), here + " latency_s");
  m.encoder_latency_s =
      latency_from_json(field(j, "encoder_latency_s", here), here + " encoder_latency_s");
  m.component_s = get_map<double>(j, "component_s", here);
  return m;
}

json to_json(const RunResult& run) {
  json models = json::array();
  for (const ModelResult& m : run.models) models.push_back(to_json(m));
  json utterances = json::array();
  for (const UtteranceResult& u : run.utterances) utterances.push_back(to_json(u));
  json skipped = json::array();
  for (const SkippedItem& s : run.skipped) {
    skipped.push_back({{"id", s.id}, {"source", s.source}, {"reason", s.reason}});
  }
  return {{"schema_version", run.schema_version},
          {"quasr", {{"version", run.quasr_version}, {"commit", run.quasr_commit}}},
          {"created_utc", run.created_utc},
          {"machine",
           {{"cpu_model", run.machine.cpu_model},
            {"isa", run.machine.isa},
            {"threads", run.machine.threads},
            {"hostname", run.machine.hostname}}},
          {"dataset",
           {{"path", run.dataset.path},
            {"format", run.dataset.format},
            {"utterances", run.dataset.utterances},
            {"audio_s", number_or_null(run.dataset.audio_s)},
            {"shard", {{"index", run.dataset.shard_index}, {"count", run.dataset.shard_count}}}}},
          {"options", run.options},
          {"merged_from", run.merged_from},
          {"models", models},
          {"skipped", skipped},
          {"utterances", utterances}};
}

RunResult run_from_json(const json& j, const std::string& where) {
  RunResult run;
  run.schema_version = static_cast<int>(get_int(j, "schema_version", where));
  if (run.schema_version != kBenchSchemaVersion) {
    throw Error(where + ": schema_version " + std::to_string(run.schema_version) +
                " is not supported (expected " + std::to_string(kBenchSchemaVersion) + ")");
  }
  const json& quasr = field(j, "quasr", where);
  run.quasr_version = get_string(quasr, "version", where + " quasr");
  run.quasr_commit = get_string(quasr, "commit", where + " quasr");
  run.created_utc = get_string(j, "created_utc", where);
  const json& machine = field(j, "machine", where);
  run.machine.cpu_model = get_string(machine, "cpu_model", where + " machine");
  run.machine.isa = get_string(machine, "isa", where + " machine");
  run.machine.threads = static_cast<int>(get_int(machine, "threads", where + " machine"));
  run.machine.hostname = get_string(machine, "hostname", where + " machine");
  const json& dataset = field(j, "dataset", where);
  const std::string dwhere = where + " dataset";
  run.dataset.path = get_string(dataset, "path", dwhere);
  run.dataset.format = get_string(dataset, "format", dwhere);
  run.dataset.utterances = get_int(dataset, "utterances", dwhere);
  run.dataset.audio_s = get_double(dataset, "audio_s", dwhere);
  const json& shard = field(dataset, "shard", dwhere);
  run.dataset.shard_index = static_cast<int>(get_int(shard, "index", dwhere + " shard"));
  run.dataset.shard_count = static_cast<int>(get_int(shard, "count", dwhere + " shard"));
  run.options = field(j, "options", where);
  run.merged_from = static_cast<int>(get_int(j, "merged_from", where));
  for (const json& m : field(j, "models", where)) run.models.push_back(model_from_json(m, where));
  for (const json& s : field(j, "skipped", where)) {
    run.skipped.push_back({get_string(s, "id", where + " skipped"),
                           get_string(s, "source", where + " skipped"),
                           get_string(s, "reason", where + " skipped")});
  }
  for (const json& u : field(j, "utterances", where)) {
    run.utterances.push_back(utterance_from_json(u, where));
  }
  return run;
}

RunResult read_run_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open run JSON for reading");
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw Error(path + ": not valid JSON");
  return run_from_json(j, path);
}

void write_run_file(const std::string& path, const RunResult& run) {
  write_file_atomic(path, to_json(run).dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

}  // namespace quasr
