// Latency percentiles and real-time factors.
#pragma once

#include <vector>

namespace quasr {

// Percentile q in [0, 100] with linear interpolation between closest ranks
// (Hyndman-Fan type 7, numpy's default "linear"): with the n values sorted
// ascending as x[0..n-1], h = (n-1)*q/100 and the result is
// x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h]).
// Returns NaN for an empty input. Throws quasr::Error when q is outside [0, 100].
double percentile(std::vector<double> values, double q);

struct LatencyPercentiles {
  double p50 = 0.0;  // seconds
  double p90 = 0.0;
  double p99 = 0.0;
  double mean = 0.0;
  double max = 0.0;
  bool operator==(const LatencyPercentiles&) const = default;
};
// All fields NaN for an empty input.
LatencyPercentiles latency_percentiles(const std::vector<double>& seconds);

// The tutorial's RTF: processing seconds / audio seconds (NaN when audio is 0).
double real_time_factor(double processing_s, double audio_s);
// RTFx = 1 / RTF, i.e. seconds of audio processed per second (NaN when RTF is 0).
double inverse_rtf(double rtf);

}  // namespace quasr
