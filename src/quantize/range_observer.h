// Calibration observers: they watch a static leaf's inputs and choose the
// clipping range [lo, hi] its fixed u8 activation scale will cover.
//
//  minmax          the extremes seen (PyTorch MinMaxObserver)
//  moving_average  extremes averaged over calls with constant 0.01
//                  (PyTorch MovingAverageMinMaxObserver)
//  percentile      the p-th / (100-p)-th percentiles of a histogram
//  mse             the range on the histogram that minimises expected
//                  squared quantization error (clipping + rounding)
//  entropy         the range minimising KL(histogram ‖ quantized histogram),
//                  TensorRT's calibration, over a symmetric search
#pragma once

#include <memory>
#include <string>
#include <utility>

namespace quasr::quantize {

class RangeObserver {
 public:
  virtual ~RangeObserver() = default;
  virtual void observe(const float* x, int64_t count) = 0;
  // The chosen [lo, hi]; always contains 0. {0, 0} before any data.
  virtual std::pair<float, float> range() const = 0;
};

// Throws quasr::Error for an unknown kind or a percentile outside (50, 100].
std::unique_ptr<RangeObserver> make_range_observer(const std::string& kind, double percentile);

}  // namespace quasr::quantize
