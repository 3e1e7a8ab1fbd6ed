// Progress lines on stderr while quasr bench runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace quasr::cli {

// Rewrites one status line ("\r...") on stderr: phase, n/total, utterances per
// second and ETA, at most every 200 ms. Only active when constructed with
// enabled = true (stderr is a terminal and --quiet is not given); otherwise
// every call is a no-op, so logs and CI output stay clean.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  ~ProgressLine() { finish(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Starts a phase ("hf_large_st warm-up") of `total` steps.
  void start(const std::string& phase, int64_t total);
  // `done` steps of the current phase are complete.
  void update(int64_t done);
  // Clears the status line so the next message starts on a clean line.
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  void draw(int64_t done);

  bool enabled_;
  bool drawn_ = false;
  std::string phase_;
  int64_t total_ = 0;
  Clock::time_point started_;
  Clock::time_point last_draw_;
};

// "1:05" / "1:02:03" for a duration in seconds; "--:--" when not finite.
std::string format_eta(double seconds);

// True when file descriptor 2 is a terminal.
bool stderr_is_tty();

}  // namespace quasr::cli
