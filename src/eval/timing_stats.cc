#include "eval/timing_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "core/error.h"

namespace quasr {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

double percentile(std::vector<double> values, double q) {
  if (!(q >= 0.0 && q <= 100.0)) {
    throw Error("percentile: q must be in [0, 100], got " + std::to_string(q));
  }
  if (values.empty()) return kNaN;
  std::sort(values.begin(), values.end());
  const double h = static_cast<double>(values.size() - 1) * q / 100.0;
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (h - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

LatencyPercentiles latency_percentiles(const std::vector<double>& seconds) {
  if (seconds.empty()) return {kNaN, kNaN, kNaN, kNaN, kNaN};
  LatencyPercentiles result;
  result.p50 = percentile(seconds, 50.0);
  result.p90 = percentile(seconds, 90.0);
  result.p99 = percentile(seconds, 99.0);
  result.mean =
      std::accumulate(seconds.begin(), seconds.end(), 0.0) / static_cast<double>(seconds.size());
  result.max = *std::max_element(seconds.begin(), seconds.end());
  return result;
}

double real_time_factor(double processing_s, double audio_s) {
  return audio_s > 0.0 ? processing_s / audio_s : kNaN;
}

double inverse_rtf(double rtf) {
  return rtf > 0.0 ? 1.0 / rtf : kNaN;
}

}  // namespace quasr
