#include "quantize/range_observer.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace quasr::quantize {

namespace {

class MinMaxObserver : public RangeObserver {
 public:
  void observe(const float* x, int64_t count) override {
    if (count == 0) return;
    auto [lo, hi] = std::minmax_element(x, x + count);
    lo_ = std::min(lo_, *lo);
    hi_ = std::max(hi_, *hi);
  }
  std::pair<float, float> range() const override { return {lo_, hi_}; }

 private:
  float lo_ = 0.0f;
  float hi_ = 0.0f;
};

class MovingAverageObserver : public RangeObserver {
 public:
  void observe(const float* x, int64_t count) override {
    if (count == 0) return;
    auto [lo, hi] = std::minmax_element(x, x + count);
    if (!seen_) {
      lo_ = *lo;
      hi_ = *hi;
      seen_ = true;
    } else {
      lo_ += kAveragingConstant * (*lo - lo_);
      hi_ += kAveragingConstant * (*hi - hi_);
    }
  }
  std::pair<float, float> range() const override {
    return {std::min(lo_, 0.0f), std::max(hi_, 0.0f)};
  }

 private:
  static constexpr float kAveragingConstant = 0.01f;
  bool seen_ = false;
  float lo_ = 0.0f;
  float hi_ = 0.0f;
};

// A histogram over [-radius, radius] whose radius doubles (merging bin pairs)
// when data falls outside, so the whole calibration set fits in fixed memory.
class Histogram {
 public:
  static constexpr int kBins = 4096;
  void add(const float* x, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      float value = x[i];
      if (!std::isfinite(value)) continue;
      while (std::abs(value) >= radius_) grow();
      int bin = static_cast<int>((value + radius_) / (2 * radius_) * kBins);
      counts_[std::clamp(bin, 0, kBins - 1)] += 1.0;
      total_ += 1.0;
    }
  }
  double total() const { return total_; }
  double bin_width() const { return 2 * radius_ / kBins; }
  double bin_center(int bin) const { return -radius_ + (bin + 0.5) * bin_width(); }
  double count(int bin) const { return counts_[bin]; }
  // The value below which a fraction q of the data lies.
  float quantile(double q) const {
    double target = q * total_, seen = 0.0;
    for (int bin = 0; bin < kBins; ++bin) {
      seen += counts_[bin];
      if (seen >= target) return static_cast<float>(-radius_ + (bin + 1) * bin_width());
    }
    return static_cast<float>(radius_);
  }

 private:
  void grow() {
    std::vector<double> merged(kBins, 0.0);
    for (int bin = 0; bin < kBins; ++bin) merged[kBins / 4 + bin / 2] += counts_[bin];
    counts_ = std::move(merged);
    radius_ *= 2;
  }
  double radius_ = 1.0 / 1024;
  double total_ = 0.0;
  std::vector<double> counts_ = std::vector<double>(kBins, 0.0);
};

// Expected squared error of quantizing the histogram to 256 levels on [lo, hi].
double quantization_mse(const Histogram& h, double lo, double hi) {
  double step = (hi - lo) / 255.0, error = 0.0;
  for (int bin = 0; bin < Histogram::kBins; ++bin) {
    double c = h.count(bin);
    if (c == 0.0) continue;
    double x = h.bin_center(bin);
    double clipped = x < lo ? lo - x : (x > hi ? x - hi : 0.0);
    error += c * (clipped * clipped + step * step / 12.0);
  }
  return error;
}

// KL(P ‖ Q): P is the histogram clipped to [lo, hi] (outliers folded into the
// edge bins), Q the same after merging into 256 levels and spreading back.
double clipped_kl(const Histogram& h, double lo, double hi) {
  const double width = h.bin_width();
  int first = std::max(0, static_cast<int>(std::floor((lo - h.bin_center(0)) / width + 0.5)));
  int last = std::min(Histogram::kBins - 1,
                      static_cast<int>(std::floor((hi - h.bin_center(0)) / width + 0.5)));
  if (last <= first) return INFINITY;
  std::vector<double> p(last - first + 1, 0.0);
  for (int bin = 0; bin < Histogram::kBins; ++bin)
    p[std::clamp(bin, first, last) - first] += h.count(bin);
  const int levels = 256;
  const double per_level = double(p.size()) / levels;
  std::vector<double> q(p.size(), 0.0);
  for (int level = 0; level < levels; ++level) {
    size_t begin = static_cast<size_t>(level * per_level);
    size_t end = std::min(p.size(), static_cast<size_t>((level + 1) * per_level));
    double mass = 0.0;
    int nonzero = 0;
    for (size_t i = begin; i < end; ++i) {
      mass += p[i];
      nonzero += p[i] > 0.0;
    }
    for (size_t i = begin; i < end; ++i)
      if (p[i] > 0.0) q[i] = mass / nonzero;
  }
  double total = 0.0, kl = 0.0;
  for (double v : p) total += v;
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] > 0.0) kl += p[i] / total * std::log(p[i] / std::max(q[i], 1e-12));
  return kl;
}

class HistogramObserver : public RangeObserver {
 public:
  enum class Method { kPercentile, kMse, kEntropy };
  HistogramObserver(Method method, double percentile) : method_(method), percentile_(percentile) {}
  void observe(const float* x, int64_t count) override {
    histogram_.add(x, count);
    minmax_.observe(x, count);
  }
  std::pair<float, float> range() const override {
    if (histogram_.total() == 0.0) return {0.0f, 0.0f};
    auto [lo, hi] = minmax_.range();
    if (method_ == Method::kPercentile) {
      double tail = (100.0 - percentile_) / 100.0;
      return {std::min(0.0f, histogram_.quantile(tail)),
              std::max(0.0f, histogram_.quantile(1 - tail))};
    }
    // Search shrinking fractions of the observed range for the best score.
    double best_score = INFINITY, best_fraction = 1.0;
    for (int step = 0; step <= 100; ++step) {
      double fraction = 1.0 - step * 0.0095;
      double score = method_ == Method::kMse
                         ? quantization_mse(histogram_, lo * fraction, hi * fraction)
                         : clipped_kl(histogram_, lo * fraction, hi * fraction);
      if (score < best_score) {
        best_score = score;
        best_fraction = fraction;
      }
    }
    return {static_cast<float>(lo * best_fraction), static_cast<float>(hi * best_fraction)};
  }

 private:
  Method method_;
  double percentile_;
  Histogram histogram_;
  MinMaxObserver minmax_;
};

}  // namespace

std::unique_ptr<RangeObserver> make_range_observer(const std::string& kind, double percentile) {
  if (kind == "minmax") return std::make_unique<MinMaxObserver>();
  if (kind == "moving_average" || kind == "moving_average_minmax")
    return std::make_unique<MovingAverageObserver>();
  if (kind == "percentile") {
    if (!(percentile > 50.0 && percentile <= 100.0))
      throw Error("--percentile " + std::to_string(percentile) + ": must be in (50, 100]");
    return std::make_unique<HistogramObserver>(HistogramObserver::Method::kPercentile, percentile);
  }
  if (kind == "mse") return std::make_unique<HistogramObserver>(HistogramObserver::Method::kMse, 0);
  if (kind == "entropy" || kind == "kl")
    return std::make_unique<HistogramObserver>(HistogramObserver::Method::kEntropy, 0);
  throw Error("observer '" + kind +
              "': unknown (expected minmax, moving_average, percentile, "
              "mse or entropy)");
}

}  // namespace quasr::quantize
