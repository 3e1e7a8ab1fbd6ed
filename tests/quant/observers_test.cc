#include "quant/observers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"

namespace quasr::quant {
namespace {

// 1e6 values evenly spread over [0, 1) plus one outlier at 10. Hand
// analysis: clipping the outlier at 1 costs 9² = 81 squared units plus a
// rounding cost of 1e6 · (1/255)² / 12 ≈ 1.3; keeping it costs rounding
// 1e6 · (10/255)² / 12 ≈ 128, so the MSE-optimal range is ≈ [0, 1]. The
// 99.99th percentile is ≈ 0.9999 and the 0.01th ≈ 0.0001.
std::vector<float> uniform_with_outlier() {
  std::vector<float> x;
  for (int i = 0; i < 1000000; ++i) x.push_back((i + 0.5f) / 1000000.0f);
  x.push_back(10.0f);
  return x;
}

std::pair<float, float> observe_all(const std::string& kind, const std::vector<float>& x,
                                    ObserverOptions options = {}) {
  auto observer = make_observer(kind, options);
  // In several calls, so histograms re-bin as the range grows.
  const int64_t chunk = 7919;
  for (int64_t start = 0; start < static_cast<int64_t>(x.size()); start += chunk) {
    observer->observe(x.data() + start,
                      std::min<int64_t>(chunk, static_cast<int64_t>(x.size()) - start));
  }
  return observer->range();
}

TEST(Observers, MinMaxIsExactExtremes) {
  std::vector<float> x;
  for (int v = -3; v <= 12; ++v) x.push_back(static_cast<float>(v));
  auto [lo, hi] = observe_all("minmax", x);
  EXPECT_EQ(lo, -3.0f);
  EXPECT_EQ(hi, 12.0f);
}

TEST(Observers, MovingAverageFollowsTorchFormula) {
  auto observer = make_observer("moving_average_minmax");
  const float a[] = {-1.0f, 0.0f, 1.0f};
  const float b[] = {-3.0f, 2.0f, 5.0f};
  observer->observe(a, 3);  // first call taken as is: (-1, 1)
  auto [lo1, hi1] = observer->range();
  EXPECT_EQ(lo1, -1.0f);
  EXPECT_EQ(hi1, 1.0f);
  observer->observe(b, 3);  // -1 + 0.01 (-3 + 1) = -1.02; 1 + 0.01 (5 - 1) = 1.04
  auto [lo2, hi2] = observer->range();
  EXPECT_FLOAT_EQ(lo2, -1.02f);
  EXPECT_FLOAT_EQ(hi2, 1.04f);
}

TEST(Observers, EmptyObserverGivesZeroRange) {
  for (const std::string& kind : observer_kinds()) {
    auto observer = make_observer(kind);
    const float nan = NAN;
    observer->observe(&nan, 1);
    auto [lo, hi] = observer->range();
    EXPECT_EQ(lo, 0.0f) << kind;
    EXPECT_EQ(hi, 0.0f) << kind;
  }
}

TEST(Observers, OutlierClippedByHistogramKindsNotMinMax) {
  std::vector<float> x = uniform_with_outlier();
  EXPECT_EQ(observe_all("minmax", x).second, 10.0f);
  const double bin = 10.0 / 2048;  // histogram resolution
  auto [plo, phi] = observe_all("percentile", x);
  EXPECT_NEAR(phi, 0.9999, bin);
  EXPECT_NEAR(plo, 0.0001, bin);
  auto [mlo, mhi] = observe_all("mse", x);
  EXPECT_NEAR(mhi, 1.0, 2 * bin);
  EXPECT_EQ(mlo, 0.0f);  // extended to 0
}

// A standard normal sample (fixed seed) and one outlier at 50. KL's merged
// levels are blind to flat (uniform) mass, so it is tested on a bell shape:
// the threshold must land in the tail of the bulk, far below the outlier.
std::vector<float> normal_with_outlier() {
  std::mt19937 rng(1337);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(100000);
  for (float& v : x) v = dist(rng);
  x.push_back(50.0f);
  return x;
}

TEST(Observers, EntropyClipsOutlierOfBellShape) {
  std::vector<float> x = normal_with_outlier();
  auto [lo, hi] = observe_all("entropy", x);
  EXPECT_GT(hi, 2.5f);
  EXPECT_LT(hi, 6.0f);
  EXPECT_FLOAT_EQ(lo, -hi);  // symmetric threshold inside the data's minimum
  auto [plo, phi] = observe_all("percentile", x);
  EXPECT_GT(phi, 3.4f);  // Φ⁻¹(0.9999) = 3.72, sampled
  EXPECT_LT(phi, 4.1f);
  EXPECT_LT(plo, -3.4f);
}

TEST(Observers, PercentileHundredIsMaximum) {
  std::vector<float> x;
  for (int v = 0; v < 4096; ++v) x.push_back(static_cast<float>(v));
  ObserverOptions options;
  options.percentile = 100.0;
  auto [lo, hi] = observe_all("percentile", x, options);
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 4095.0f);
}

TEST(Observers, PercentileOfUniformInts) {
  // 0..1999, each once, on 2048 bins over [0, 1999]: the 99th percentile of
  // the mass is at 1980 (1% of 2000 values lie above), within one bin.
  std::vector<float> x;
  for (int v = 0; v < 2000; ++v) x.push_back(static_cast<float>(v));
  ObserverOptions options;
  options.percentile = 99.0;
  auto [lo, hi] = observe_all("percentile", x, options);
  EXPECT_NEAR(hi, 1980.0, 1.5);
  EXPECT_NEAR(lo, 20.0, 1.5);
}

TEST(Observers, MseKeepsTightUniformRange) {
  // No outliers: clipping anything costs more than it saves in rounding.
  std::vector<float> x;
  for (int i = 0; i < 10000; ++i) x.push_back(-1.0f + 2.0f * (i + 0.5f) / 10000.0f);
  auto [lo, hi] = observe_all("mse", x);
  EXPECT_NEAR(lo, -1.0, 0.01);
  EXPECT_NEAR(hi, 1.0, 0.01);
}

TEST(Observers, EntropySymmetricThreshold) {
  // Symmetric data with outliers on both sides: the threshold clips both.
  std::vector<float> x = normal_with_outlier();
  std::vector<float> both;
  for (float v : x) {
    both.push_back(v);
    both.push_back(-v);
  }
  auto [lo, hi] = observe_all("entropy", both);
  EXPECT_FLOAT_EQ(lo, -hi);
  EXPECT_LT(hi, 6.0f);
}

TEST(Histogram, RebinKeepsMass) {
  Histogram h(256);
  std::vector<float> a(100, 1.0f), b(50, 3.0f);
  a[0] = 0.0f;
  h.add(a.data(), 100);
  h.add(b.data(), 50);
  double sum = 0.0;
  for (double c : h.counts()) sum += c;
  EXPECT_DOUBLE_EQ(sum, 150.0);
  EXPECT_EQ(h.lo(), 0.0f);
  EXPECT_EQ(h.hi(), 3.0f);
  // The 99 values at 1 sit at a third of the range.
  EXPECT_NEAR(h.quantile(0.5), 1.0, 2 * h.bin_width());
}

TEST(Observers, BadKindAndOptionsAreErrors) {
  EXPECT_THROW(make_observer("kl"), Error);
  ObserverOptions options;
  options.percentile = 40.0;
  EXPECT_THROW(make_observer("percentile", options), Error);
  options = {};
  options.bins = 10;
  EXPECT_THROW(make_observer("mse", options), Error);
}

}  // namespace
}  // namespace quasr::quant
