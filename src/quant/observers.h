// Calibration observers: each watches the values flowing into one static
// int8 input and chooses the range [lo, hi] its fixed scale will cover (give
// it to choose_asymmetric, which also makes the range include 0).
//
//  minmax                 extremes seen over all calls (torch MinMaxObserver)
//  moving_average_minmax  per call: lo += c (min(x) - lo), hi likewise, c =
//                         0.01, the first call taken as is (torch
//                         MovingAverageMinMaxObserver)
//  percentile             the (100 - p)-th and p-th percentiles of a
//                         2048-bin histogram (p = 99.99 by default), read
//                         with linear interpolation inside a bin
//  entropy                TensorRT's KL calibration: on a 2048-bin histogram
//                         of |x|, the threshold t (a bin edge, >= 128 bins)
//                         whose 128-level quantized distribution has the least
//                         KL divergence from the clipped reference one;
//                         range = [max(min, -t), min(max, t)]. (Not torch's
//                         HistogramObserver, whose search minimises L2.)
//  mse                    the pair of histogram bin edges [lo, hi] (each
//                         extended to include 0, as returned) minimising the expected
//                         squared error of u8 quantization over the histogram:
//                         clipping error of the mass outside plus step²/12
//                         rounding error inside, step = (hi - lo) / 255
//
// Histograms cover the range seen so far; when a call brings values outside
// it, the counts are re-binned onto the wider range (each old bin's count
// spread over the new bins it overlaps, in proportion). NaN and ±inf are
// ignored. Before any finite value, range() is {0, 0}.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "quant/quant_math.h"

namespace quasr::quant {

class Observer {
 public:
  virtual ~Observer() = default;
  virtual void observe(const float* x, int64_t n) = 0;
  // The chosen (lo, hi), lo <= hi; may exclude 0 (choose_* add it).
  virtual std::pair<float, float> range() const = 0;
  virtual std::string kind() const = 0;
};

struct ObserverOptions {
  double percentile = 99.99;           // percentile: in (50, 100]
  float averaging_constant = 0.01f;    // moving_average_minmax: in (0, 1]
  int bins = 2048;                     // histogram kinds: >= 256
  QuantRange range = u8_range(false);  // mse: the levels quantization will use
};

// Kinds: minmax, moving_average_minmax, percentile, entropy, mse. Throws
// quasr::Error naming the accepted kinds, or the bad option and its bounds.
std::unique_ptr<Observer> make_observer(const std::string& kind,
                                        const ObserverOptions& options = {});
const std::vector<std::string>& observer_kinds();

// A histogram over [lo, hi] that widens (re-binning) as data arrives.
// Exposed for the observers' tests and for calibration summaries.
class Histogram {
 public:
  // anchor_zero: the histogram always starts at 0 or below (for |x|).
  explicit Histogram(int bins, bool anchor_zero = false);
  // absolute: histogram |x| instead of x.
  void add(const float* x, int64_t n, bool absolute = false);
  bool empty() const { return total_ == 0.0; }
  float lo() const { return lo_; }
  float hi() const { return hi_; }
  // Extremes of the values seen (exact, not bin edges).
  float min_seen() const { return min_; }
  float max_seen() const { return max_; }
  double bin_width() const;
  double total() const { return total_; }
  const std::vector<double>& counts() const { return counts_; }
  // The value below which a fraction `fraction` of the mass lies.
  double quantile(double fraction) const;

 private:
  void rebin(float lo, float hi);

  std::vector<double> counts_;
  bool anchor_zero_;
  float lo_ = 0.0f;
  float hi_ = 0.0f;
  float min_ = 0.0f;
  float max_ = 0.0f;
  double total_ = 0.0;
};

}  // namespace quasr::quant
