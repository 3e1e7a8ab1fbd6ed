#include "bench_runner.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>

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

// The engine's own stage times of the latest forward ("encoder.cnn", ...),
// beside the audio / encoder / decode totals.
void add_engine_components(const model::StageTimes& times,
                           std::map<std::string, double>& component_s) {
  for (std::size_t k = 0; k < model::StageTimes::kStages; ++k) {
    const auto stage = static_cast<model::Stage>(k);
    component_s[model::stage_name(stage)] = times.seconds(stage);
  }
}

struct Measured {
  UtteranceResult result;
  bool ok = false;
  std::string error;
};

// Audio decode + resample, encoder forward, greedy decode; each timed.
Measured measure(const model::AsrModel& model, const BenchItem& item, const LoopSettings& settings,
                 model::Workspace& ws, Tensor& log_probs) {
  Measured m;
  UtteranceResult& r = m.result;
  const Clock::time_point start = Clock::now();
  std::vector<float> wav;
  try {
    wav = load_audio(item.utterance.audio_path, kSampleRate);
  } catch (const Error& e) {
    m.error = e.what();
    return m;
  }
  const double audio_done = seconds_since(start);
  const Clock::time_point encoder_start = Clock::now();
  model.log_probs_windowed(wav.data(), static_cast<int64_t>(wav.size()), settings.window_samples,
                           settings.window_context_samples, ws, log_probs);
  r.encoder_s = seconds_since(encoder_start);
  const Clock::time_point decode_start = Clock::now();
  std::string hyp = model.greedy_text(log_probs);
  const double decode_s = seconds_since(decode_start);
  r.e2e_s = seconds_since(start);
  r.component_s = {{"audio", audio_done}, {"encoder", r.encoder_s}, {"decode", decode_s}};
  add_engine_components(ws.times, r.component_s);
  r.audio_s = static_cast<double>(wav.size()) / kSampleRate;
  r.id = item.utterance.id;
  r.index = item.utterance.index;
  r.ref = item.ref;
  r.hyp = settings.normalize_basic ? normalize_basic(std::move(hyp)) : std::move(hyp);
  score_utterance(r);
  m.ok = true;
  return m;
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

// Runs in the workspace the timed loop then uses.
void warm_up(const ModelSpec& spec, const model::AsrModel& model,
             const std::vector<BenchItem>& items, const LoopSettings& settings,
             ProgressLine& progress, FailedItems& failed, model::Workspace& ws, Tensor& log_probs) {
  const std::vector<const BenchItem*> chosen = warm_up_items(items, settings.warmup);
  if (chosen.empty()) return;
  progress.start(spec.name + " warm-up", static_cast<int64_t>(chosen.size()));
  for (size_t k = 0; k < chosen.size() && !InterruptGuard::interrupted(); ++k) {
    const BenchItem& item = *chosen[k];
    if (failed.ids.count(item.utterance.id)) continue;
    Measured m = measure(model, item, settings, ws, log_probs);
    if (!m.ok) record_failure(item, m.error, settings, failed);
    progress.update(static_cast<int64_t>(k + 1));
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
  Tensor log_probs;
  if (!todo.empty()) warm_up(spec, *model, items, settings, progress, failed, ws, log_probs);
  progress.start(spec.name, static_cast<int64_t>(todo.size()));
  for (size_t k = 0; k < todo.size(); ++k) {
    if (InterruptGuard::interrupted()) break;
    const BenchItem& item = *todo[k];
    if (failed.ids.count(item.utterance.id)) continue;
    Measured m = measure(*model, item, settings, ws, log_probs);
    if (!m.ok) {
      record_failure(item, m.error, settings, failed);
      continue;
    }
    m.result.model = spec.name;
    sink.add(m.result);
    outcome.utterances.push_back(std::move(m.result));
    progress.update(static_cast<int64_t>(k + 1));
    if (settings.interrupt_after >= 0 && sink.added() == settings.interrupt_after) {
      std::raise(SIGINT);
    }
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
