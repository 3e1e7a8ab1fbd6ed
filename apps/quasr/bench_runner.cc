#include "bench_runner.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <span>

#include "audio/audio.h"
#include "bench_info.h"
#include "core/error.h"
#include "eval/process_stats.h"
#include "model/asr_model.h"
#include "text/normalize.h"

namespace quasr::cli {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kSampleRate = 16000;

volatile std::sig_atomic_t g_interrupted = 0;
struct sigaction g_previous_sigint {};

void on_sigint(int) {
  g_interrupted = 1;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Writing "5" to clear_refs resets VmHWM (Linux >= 4.0). Without it each
// model's peak would include every model before it.
void reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  if (clear) clear << "5";
}

struct Measured {
  UtteranceResult result;
  bool ok = false;
  std::string error;
};

// Audio decode + resample of each item (timed; failures recorded in out).
// Returns the audio that loaded, in group order, and its items' positions.
std::vector<std::vector<float>> load_group(std::span<const BenchItem* const> group,
                                           std::vector<Measured>& out, std::vector<size_t>& items) {
  std::vector<std::vector<float>> wavs;
  for (size_t k = 0; k < group.size(); ++k) {
    const Clock::time_point start = Clock::now();
    try {
      wavs.push_back(load_audio(group[k]->utterance.audio_path, kSampleRate));
    } catch (const Error& e) {
      out[k].error = e.what();
      continue;
    }
    out[k].result.component_s["audio"] = seconds_since(start);
    out[k].result.audio_s = static_cast<double>(wavs.back().size()) / kSampleRate;
    items.push_back(k);
  }
  return wavs;
}

// Audio decode + resample, encoder forward and greedy decode of a group of
// items, each timed but the encoder, which runs the group at once
// (AsrModel::group_log_probs: one transformer pass for the group;
// windowed recordings alone): each utterance is charged the group's encoder
// and stage times in proportion to its audio. A group of one is the plain
// per-utterance loop.
std::vector<Measured> measure_group(const model::AsrModel& model,
                                    std::span<const BenchItem* const> group,
                                    const LoopSettings& settings, model::Workspace& ws,
                                    std::vector<Tensor>& log_probs) {
  std::vector<Measured> out(group.size());
  std::vector<size_t> items;
  const std::vector<std::vector<float>> wavs = load_group(group, out, items);
  const Clock::time_point encoder_start = Clock::now();
  model.group_log_probs(wavs, ws, log_probs, settings.window_samples,
                        settings.window_context_samples);
  const double encoder_s = seconds_since(encoder_start);
  double audio_s = 0.0;
  for (size_t k : items) audio_s += out[k].result.audio_s;
  for (size_t j = 0; j < items.size(); ++j) {
    Measured& m = out[items[j]];
    UtteranceResult& r = m.result;
    const BenchItem& item = *group[items[j]];
    const double part = audio_s > 0.0 ? r.audio_s / audio_s : 1.0 / double(items.size());
    r.encoder_s = encoder_s * part;
    r.component_s["encoder"] = r.encoder_s;
    for (std::size_t stage = 0; stage < model::StageTimes::kStages; ++stage) {
      const auto s = static_cast<model::Stage>(stage);
      r.component_s[model::stage_name(s)] = ws.times.seconds(s) * part;
    }
    const Clock::time_point decode_start = Clock::now();
    std::string hyp = model.greedy_text(log_probs[j]);
    r.component_s["decode"] = seconds_since(decode_start);
    r.e2e_s = r.component_s["audio"] + r.encoder_s + r.component_s["decode"];
    r.id = item.utterance.id;
    r.index = item.utterance.index;
    r.ref = item.ref;
    r.hyp = settings.normalize_basic ? normalize_basic(std::move(hyp)) : std::move(hyp);
    score_utterance(r);
    m.ok = true;
  }
  return out;
}

void record_failure(const BenchItem& item, const std::string& error, const LoopSettings& settings,
                    FailedItems& failed) {
  if (!settings.skip_bad) throw Error(item.utterance.source + ": " + error);
  if (failed.ids.insert(item.utterance.id).second) {
    failed.items.push_back({item.utterance.id, item.utterance.source, error});
  }
}

// The warm-up runs the largest audio files of the selection (by bytes, a
// stand-in for duration that needs no decoding): besides compiling kernels,
// it grows the activation buffers to their steady-state size, so the timed
// utterances do not pay for first-touch page faults that a long-running
// service pays once.
std::vector<const BenchItem*> warm_up_items(const std::vector<BenchItem>& items, int64_t count) {
  std::vector<std::pair<std::uintmax_t, const BenchItem*>> by_size;
  for (const BenchItem& item : items) {
    std::error_code ec;  // unreadable files fail later, where they are reported
    const std::uintmax_t size = std::filesystem::file_size(item.utterance.audio_path, ec);
    by_size.emplace_back(ec ? 0 : size, &item);
  }
  count = std::min<int64_t>(count, static_cast<int64_t>(by_size.size()));
  std::stable_sort(by_size.begin(), by_size.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<const BenchItem*> chosen;
  for (int64_t k = 0; k < count; ++k) chosen.push_back(by_size[static_cast<size_t>(k)].second);
  return chosen;
}

// The items not failed yet, in groups of settings.batch_size (the last may
// be short).
std::vector<std::vector<const BenchItem*>> groups_of(std::span<const BenchItem* const> items,
                                                     const LoopSettings& settings,
                                                     const FailedItems& failed) {
  std::vector<std::vector<const BenchItem*>> groups;
  for (const BenchItem* item : items) {
    if (failed.ids.count(item->utterance.id)) continue;
    if (groups.empty() || static_cast<int64_t>(groups.back().size()) >= settings.batch_size)
      groups.emplace_back();
    groups.back().push_back(item);
  }
  return groups;
}

// Runs in the workspace the timed loop then uses, in groups as it does.
void warm_up(const ModelSpec& spec, const model::AsrModel& model,
             const std::vector<BenchItem>& items, const LoopSettings& settings,
             ProgressLine& progress, FailedItems& failed, model::Workspace& ws,
             std::vector<Tensor>& log_probs) {
  const std::vector<const BenchItem*> chosen = warm_up_items(items, settings.warmup);
  if (chosen.empty()) return;
  progress.start(spec.name + " warm-up", static_cast<int64_t>(chosen.size()));
  int64_t done = 0;
  for (const auto& group : groups_of(chosen, settings, failed)) {
    if (InterruptGuard::interrupted()) break;
    const std::vector<Measured> measured = measure_group(model, group, settings, ws, log_probs);
    for (size_t k = 0; k < group.size(); ++k)
      if (!measured[k].ok) record_failure(*group[k], measured[k].error, settings, failed);
    done += static_cast<int64_t>(group.size());
    progress.update(done);
  }
  progress.finish();
}

}  // namespace

void ResultSink::add(const UtteranceResult& result) {
  ++added_;
  if (path_.empty()) return;
  if (!appender_) {
    const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
    std::error_code ec;  // a failure shows when the appender opens the file
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    appender_ = std::make_unique<JsonlAppender>(path_);
  }
  appender_->append(result);
}

ModelOutcome bench_model(const ModelSpec& spec, const std::vector<BenchItem>& items,
                         const std::set<std::string>& done, const LoopSettings& settings,
                         ResultSink& sink, ProgressLine& progress, FailedItems& failed) {
  ModelOutcome outcome;
  ModelResult& result = outcome.model;
  result.name = spec.name;
  result.path = spec.path;
  reset_peak_rss();
  const Clock::time_point load_start = Clock::now();
  model::LoadOptions load;
  load.attention = settings.attention;
  load.fp32_matmul = settings.fp32_matmul;
  std::unique_ptr<model::AsrModel> model = model::load_model(spec.path, load);
  result.load_s = seconds_since(load_start);
  result.kind = model_kind(*model);
  result.file_bytes = model_weight_file_bytes(spec.path);
  result.param_bytes_by_dtype = param_bytes_by_dtype(*model);

  std::vector<const BenchItem*> todo;
  for (const BenchItem& item : items) {
    if (!done.count(item.utterance.id)) todo.push_back(&item);
  }
  model::Workspace ws;
  std::vector<Tensor> log_probs;
  if (!todo.empty()) warm_up(spec, *model, items, settings, progress, failed, ws, log_probs);
  progress.start(spec.name, static_cast<int64_t>(todo.size()));
  int64_t done_items = 0;
  for (const auto& group : groups_of(todo, settings, failed)) {
    if (InterruptGuard::interrupted()) break;
    std::vector<Measured> measured = measure_group(*model, group, settings, ws, log_probs);
    for (size_t k = 0; k < group.size(); ++k) {
      Measured& m = measured[k];
      if (!m.ok) {
        record_failure(*group[k], m.error, settings, failed);
        continue;
      }
      m.result.model = spec.name;
      sink.add(m.result);
      outcome.utterances.push_back(std::move(m.result));
      if (settings.interrupt_after >= 0 && sink.added() == settings.interrupt_after) {
        std::raise(SIGINT);
      }
    }
    done_items += static_cast<int64_t>(group.size());
    progress.update(done_items);
  }
  progress.finish();
  outcome.interrupted = InterruptGuard::interrupted();
  result.peak_rss_bytes = read_peak_rss_bytes();
  return outcome;
}

InterruptGuard::InterruptGuard() {
  g_interrupted = 0;
  struct sigaction action {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &action, &g_previous_sigint);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_previous_sigint, nullptr);
}

bool InterruptGuard::interrupted() {
  return g_interrupted != 0;
}

}  // namespace quasr::cli
