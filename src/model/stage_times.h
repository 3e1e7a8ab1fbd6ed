// Wall time per model stage of one forward, so a benchmark shows where the
// time goes. A mark costs one steady_clock read; no allocation.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>

namespace quasr::model {

enum class Stage : std::size_t {
  kInputNorm,
  kCnn,
  kProjection,
  kPosConv,
  kAttentionLinears,  // q, k, v, out projections
  kAttentionCore,     // scores, softmax, weighted sum
  kFeedForward,
  kNormResidual,  // transformer layer norms, residual adds, output norm
  kHead,
  kCount
};

// Names used in the bench JSON ("encoder.cnn", ...).
const char* stage_name(Stage stage);

class StageTimes {
 public:
  static constexpr std::size_t kStages = static_cast<std::size_t>(Stage::kCount);

  void reset() {
    seconds_.fill(0.0);
    last_ = Clock::now();
  }
  // Charges the time since the previous mark (or reset) to `stage`.
  void mark(Stage stage) {
    const Clock::time_point now = Clock::now();
    seconds_[static_cast<std::size_t>(stage)] += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }
  double seconds(Stage stage) const { return seconds_[static_cast<std::size_t>(stage)]; }
  // Adds other's seconds stage by stage (the windows of one recording).
  void add(const StageTimes& other) {
    for (std::size_t i = 0; i < kStages; ++i) seconds_[i] += other.seconds_[i];
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::array<double, kStages> seconds_{};
  Clock::time_point last_ = Clock::now();
};

}  // namespace quasr::model
