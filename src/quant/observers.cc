#include "quant/observers.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace quasr::quant {

// ------------------------------------------------------------- histogram

Histogram::Histogram(int bins, bool anchor_zero)
    : counts_(static_cast<size_t>(bins), 0.0), anchor_zero_(anchor_zero) {}

double Histogram::bin_width() const {
  return (static_cast<double>(hi_) - lo_) / static_cast<double>(counts_.size());
}

void Histogram::rebin(float lo, float hi) {
  const double old_lo = lo_, old_width = bin_width();
  std::vector<double> old = std::move(counts_);
  counts_.assign(old.size(), 0.0);
  lo_ = lo;
  hi_ = hi;
  const double width = bin_width();
  const int64_t bins = static_cast<int64_t>(counts_.size());
  for (int64_t b = 0; b < bins; ++b) {
    if (old[b] == 0.0) continue;
    const double a = old_lo + b * old_width, e = a + old_width;
    if (old_width <= 0.0) {  // the old range was a single point
      int64_t i = std::clamp<int64_t>(static_cast<int64_t>((a - lo_) / width), 0, bins - 1);
      counts_[i] += old[b];
      continue;
    }
    int64_t first = std::clamp<int64_t>(static_cast<int64_t>((a - lo_) / width), 0, bins - 1);
    int64_t last = std::clamp<int64_t>(static_cast<int64_t>((e - lo_) / width), 0, bins - 1);
    for (int64_t i = first; i <= last; ++i) {
      double s = std::max(a, lo_ + i * width), t = std::min(e, lo_ + (i + 1) * width);
      if (t > s) counts_[i] += old[b] * (t - s) / old_width;
    }
  }
}

void Histogram::add(const float* x, int64_t n, bool absolute) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (int64_t i = 0; i < n; ++i) {
    float v = absolute ? std::fabs(x[i]) : x[i];
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (lo > hi) return;  // nothing finite
  if (anchor_zero_) lo = std::min(lo, 0.0f);
  if (total_ == 0.0) {
    lo_ = min_ = lo;
    hi_ = max_ = hi;
  } else {
    min_ = std::min(min_, lo);
    max_ = std::max(max_, hi);
    if (lo < lo_ || hi > hi_) rebin(std::min(lo, lo_), std::max(hi, hi_));
  }
  const int64_t bins = static_cast<int64_t>(counts_.size());
  const double width = bin_width();
  for (int64_t i = 0; i < n; ++i) {
    float v = absolute ? std::fabs(x[i]) : x[i];
    if (!std::isfinite(v)) continue;
    int64_t b = width > 0.0 ? static_cast<int64_t>((v - lo_) / width) : 0;
    counts_[std::clamp<int64_t>(b, 0, bins - 1)] += 1.0;
    total_ += 1.0;
  }
}

double Histogram::quantile(double fraction) const {
  const double target = std::clamp(fraction, 0.0, 1.0) * total_;
  const double width = bin_width();
  double cumulative = 0.0;
  for (size_t b = 0; b < counts_.size(); ++b) {
    if (counts_[b] > 0.0 && cumulative + counts_[b] >= target) {
      return lo_ + (b + (target - cumulative) / counts_[b]) * width;
    }
    cumulative += counts_[b];
  }
  return hi_;
}

namespace {

// -------------------------------------------------------------- min/max

class MinMaxObserver : public Observer {
 public:
  explicit MinMaxObserver(float averaging) : averaging_(averaging) {}
  void observe(const float* x, int64_t n) override {
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (int64_t i = 0; i < n; ++i) {
      if (!std::isfinite(x[i])) continue;
      lo = std::min(lo, x[i]);
      hi = std::max(hi, x[i]);
    }
    if (lo > hi) return;
    if (!seen_) {
      lo_ = lo;
      hi_ = hi;
      seen_ = true;
    } else if (averaging_ > 0.0f) {
      lo_ = lo_ + averaging_ * (lo - lo_);
      hi_ = hi_ + averaging_ * (hi - hi_);
    } else {
      lo_ = std::min(lo_, lo);
      hi_ = std::max(hi_, hi);
    }
  }
  std::pair<float, float> range() const override { return {lo_, hi_}; }
  std::string kind() const override {
    return averaging_ > 0.0f ? "moving_average_minmax" : "minmax";
  }

 private:
  float averaging_;  // 0: plain extremes
  bool seen_ = false;
  float lo_ = 0.0f;
  float hi_ = 0.0f;
};

// ----------------------------------------------------------- percentile

class PercentileObserver : public Observer {
 public:
  PercentileObserver(int bins, double percentile) : histogram_(bins), percentile_(percentile) {}
  void observe(const float* x, int64_t n) override { histogram_.add(x, n); }
  std::pair<float, float> range() const override {
    if (histogram_.empty()) return {0.0f, 0.0f};
    double lo = histogram_.quantile(1.0 - percentile_ / 100.0);
    double hi = histogram_.quantile(percentile_ / 100.0);
    lo = std::max<double>(lo, histogram_.min_seen());
    hi = std::min<double>(hi, histogram_.max_seen());
    return {static_cast<float>(lo), static_cast<float>(std::max(lo, hi))};
  }
  std::string kind() const override { return "percentile"; }

 private:
  Histogram histogram_;
  double percentile_;
};

// -------------------------------------------------------------- entropy

// KL(p ‖ q) of two unnormalised distributions after TensorRT's smoothing:
// zero entries take a small epsilon of mass from the non-zero ones.
double smoothed_kl(std::vector<double>& p, std::vector<double>& q) {
  // On raw counts, as MXNet/TensorRT: zeros get kEps, the others give it up.
  auto smooth = [](std::vector<double>& d) {
    constexpr double kEps = 1e-4;
    size_t zeros = 0;
    for (double v : d) zeros += v == 0.0;
    if (zeros == d.size()) return 0.0;
    double take = kEps * static_cast<double>(zeros) / static_cast<double>(d.size() - zeros);
    double total = 0.0;
    for (double& v : d) {
      v = v == 0.0 ? kEps : std::max(v - take, kEps);
      total += v;
    }
    return total;
  };
  double p_total = smooth(p), q_total = smooth(q);
  if (p_total <= 0.0 || q_total <= 0.0) return std::numeric_limits<double>::infinity();
  double kl = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    double a = p[i] / p_total, b = q[i] / q_total;
    kl += a * std::log(a / b);
  }
  return kl;
}

class EntropyObserver : public Observer {
 public:
  explicit EntropyObserver(int bins) : magnitudes_(bins, true), signed_(bins) {}
  void observe(const float* x, int64_t n) override {
    magnitudes_.add(x, n, true);
    signed_.add(x, n);  // only for the exact extremes
  }
  std::pair<float, float> range() const override {
    if (magnitudes_.empty()) return {0.0f, 0.0f};
    const double t = threshold();
    double lo = std::max<double>(signed_.min_seen(), -t);
    double hi = std::min<double>(signed_.max_seen(), t);
    return {static_cast<float>(lo), static_cast<float>(std::max(lo, hi))};
  }
  std::string kind() const override { return "entropy"; }

 private:
  static constexpr int kLevels = 128;

  double threshold() const {
    const std::vector<double>& h = magnitudes_.counts();
    const int bins = static_cast<int>(h.size());
    const double width = magnitudes_.bin_width();
    if (width <= 0.0) return magnitudes_.hi();
    double best_kl = std::numeric_limits<double>::infinity();
    int best = bins;
    std::vector<double> p, q;
    for (int i = kLevels; i <= bins; ++i) {
      p.assign(h.begin(), h.begin() + i);
      double outliers = 0.0;
      for (int b = i; b < bins; ++b) outliers += h[b];
      p[i - 1] += outliers;
      // Merge the first i bins into kLevels levels, then spread each level's
      // count evenly over the bins of it that are non-zero in the reference.
      q.assign(i, 0.0);
      const int merged = i / kLevels;
      for (int level = 0; level < kLevels; ++level) {
        int start = level * merged, stop = level == kLevels - 1 ? i : start + merged;
        double sum = 0.0;
        int nonzero = 0;
        for (int b = start; b < stop; ++b) {
          sum += h[b];
          nonzero += p[b] != 0.0;
        }
        if (nonzero == 0) continue;
        for (int b = start; b < stop; ++b) q[b] = p[b] != 0.0 ? sum / nonzero : 0.0;
      }
      double kl = smoothed_kl(p, q);
      if (kl < best_kl) {
        best_kl = kl;
        best = i;
      }
    }
    return magnitudes_.lo() + best * width;
  }

  Histogram magnitudes_;
  Histogram signed_;
};

// ------------------------------------------------------------------ mse

class MseObserver : public Observer {
 public:
  MseObserver(int bins, QuantRange range) : histogram_(bins), levels_(range.qmax - range.qmin) {}
  void observe(const float* x, int64_t n) override { histogram_.add(x, n); }
  std::pair<float, float> range() const override;
  std::string kind() const override { return "mse"; }

 private:
  Histogram histogram_;
  int levels_;
};

std::pair<float, float> MseObserver::range() const {
  if (histogram_.empty()) return {0.0f, 0.0f};
  const std::vector<double>& h = histogram_.counts();
  const int64_t bins = static_cast<int64_t>(h.size());
  const double lo0 = histogram_.lo(), width = histogram_.bin_width();
  if (width <= 0.0) return {histogram_.min_seen(), histogram_.max_seen()};
  // Prefix sums of count, count·c and count·c² over bin centres c: the
  // clipping error Σ n (c - L)² of the bins below an edge L is then O(1).
  std::vector<double> s0(bins + 1, 0.0), s1(bins + 1, 0.0), s2(bins + 1, 0.0);
  for (int64_t b = 0; b < bins; ++b) {
    double c = lo0 + (b + 0.5) * width;
    s0[b + 1] = s0[b] + h[b];
    s1[b + 1] = s1[b] + h[b] * c;
    s2[b + 1] = s2[b] + h[b] * c * c;
  }
  double best = std::numeric_limits<double>::infinity();
  double best_lo = histogram_.min_seen(), best_hi = histogram_.max_seen();
  for (int64_t a = 0; a < bins; ++a) {       // bins [0, a) are clipped to L
    if (a > 0 && h[a - 1] == 0.0) continue;  // same error as a smaller edge
    const double edge_lo = a == 0 ? histogram_.min_seen() : lo0 + a * width;
    const double L = std::min(edge_lo, 0.0);
    const double below = s2[a] - 2.0 * L * s1[a] + L * L * s0[a];
    for (int64_t b = bins; b > a; --b) {  // bins [b, bins) are clipped to H
      if (b < bins && h[b] == 0.0) continue;
      const double edge_hi = b == bins ? histogram_.max_seen() : lo0 + b * width;
      const double H = std::max(edge_hi, 0.0);
      const double above =
          (s2[bins] - s2[b]) - 2.0 * H * (s1[bins] - s1[b]) + H * H * (s0[bins] - s0[b]);
      const double step = (H - L) / levels_;
      const double inside = (s0[b] - s0[a]) * step * step / 12.0;
      const double error = below + above + inside;
      if (error < best) {
        best = error;
        best_lo = L;
        best_hi = H;
      }
    }
  }
  return {static_cast<float>(best_lo), static_cast<float>(best_hi)};
}

}  // namespace

const std::vector<std::string>& observer_kinds() {
  static const std::vector<std::string> kinds = {"minmax", "moving_average_minmax", "percentile",
                                                 "entropy", "mse"};
  return kinds;
}

std::unique_ptr<Observer> make_observer(const std::string& kind, const ObserverOptions& options) {
  if (options.bins < 256 || options.bins > (1 << 20)) {
    throw Error("observer '" + kind + "': bins must be in 256..1048576, got " +
                std::to_string(options.bins));
  }
  if (kind == "minmax") return std::make_unique<MinMaxObserver>(0.0f);
  if (kind == "moving_average_minmax") {
    if (!(options.averaging_constant > 0.0f && options.averaging_constant <= 1.0f)) {
      throw Error("observer moving_average_minmax: averaging constant must be in (0, 1], got " +
                  std::to_string(options.averaging_constant));
    }
    return std::make_unique<MinMaxObserver>(options.averaging_constant);
  }
  if (kind == "percentile") {
    if (!(options.percentile > 50.0 && options.percentile <= 100.0)) {
      throw Error("observer percentile: percentile must be in (50, 100], got " +
                  std::to_string(options.percentile));
    }
    return std::make_unique<PercentileObserver>(options.bins, options.percentile);
  }
  if (kind == "entropy") return std::make_unique<EntropyObserver>(options.bins);
  if (kind == "mse") {
    if (options.range.qmax <= options.range.qmin) {
      throw Error("observer mse: empty quantization range " + std::to_string(options.range.qmin) +
                  ".." + std::to_string(options.range.qmax));
    }
    return std::make_unique<MseObserver>(options.bins, options.range);
  }
  throw Error("unknown observer '" + kind +
              "' (expected minmax, moving_average_minmax, percentile, entropy or mse)");
}

}  // namespace quasr::quant
