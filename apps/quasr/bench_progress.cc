#include "bench_progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace quasr::cli {

std::string format_eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const int64_t total = static_cast<int64_t>(std::llround(seconds));
  const int64_t h = total / 3600, m = (total / 60) % 60, s = total % 60;
  char text[48];
  if (h > 0) {
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", static_cast<long long>(h),
                  static_cast<long long>(m), static_cast<long long>(s));
  } else {
    std::snprintf(text, sizeof text, "%lld:%02lld", static_cast<long long>(m),
                  static_cast<long long>(s));
  }
  return text;
}

bool stderr_is_tty() {
  return isatty(STDERR_FILENO) == 1;
}

void ProgressLine::start(const std::string& phase, int64_t total) {
  if (!enabled_) return;
  phase_ = phase;
  total_ = total;
  started_ = Clock::now();
  last_draw_ = Clock::time_point{};
  draw(0);
}

void ProgressLine::update(int64_t done) {
  if (!enabled_) return;
  const Clock::time_point now = Clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(200)) return;
  draw(done);
}

void ProgressLine::draw(int64_t done) {
  last_draw_ = Clock::now();
  const double elapsed = std::chrono::duration<double>(last_draw_ - started_).count();
  const double rate = elapsed > 0 && done > 0 ? done / elapsed : NAN;
  const double eta = std::isfinite(rate) ? (total_ - done) / rate : NAN;
  // \33[K erases what a longer previous line left behind.
  std::fprintf(stderr, "\r%s %lld/%lld  %.2f utt/s  ETA %s\33[K", phase_.c_str(),
               static_cast<long long>(done), static_cast<long long>(total_),
               std::isfinite(rate) ? rate : 0.0, format_eta(eta).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::finish() {
  if (!enabled_ || !drawn_) return;
  std::fprintf(stderr, "\r\33[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace quasr::cli
