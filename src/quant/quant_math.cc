#include "quant/quant_math.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace quasr::quant {

QuantRange u8_range(bool reduce_range) {
  return reduce_range ? QuantRange{0, 127} : QuantRange{0, 255};
}

QuantRange s8_range(bool reduce_range) {
  return reduce_range ? QuantRange{-64, 63} : QuantRange{-128, 127};
}

QuantParams choose_asymmetric(float min, float max, QuantRange range) {
  float min_neg = std::min(min, 0.0f);
  float max_pos = std::max(max, 0.0f);
  float scale = (max_pos - min_neg) / static_cast<float>(range.qmax - range.qmin);
  scale = std::max(scale, kMinScale);
  int32_t zero_point = range.qmin - static_cast<int32_t>(std::nearbyint(min_neg / scale));
  zero_point = std::clamp(zero_point, range.qmin, range.qmax);
  return {scale, zero_point};
}

QuantParams choose_symmetric(float min, float max, QuantRange range) {
  float amax = std::max(-std::min(min, 0.0f), std::max(max, 0.0f));
  float scale = amax / (static_cast<float>(range.qmax - range.qmin) / 2.0f);
  scale = std::max(scale, kMinScale);
  int32_t zero_point = 0;
  if (range.qmin >= 0) zero_point = range.qmax == 255 ? 128 : (range.qmin + range.qmax) / 2;
  return {scale, zero_point};
}

QuantParams choose_dynamic_fbgemm(float min, float max, QuantRange range) {
  // Below this scale fbgemm widens the range so scales stay representable in
  // fp16 kernels; reproduced so tiny inputs quantize as PyTorch's do.
  constexpr float kSmallScaleThreshold = 6.1e-5f;
  const int32_t qmin = range.qmin;
  const int32_t qmax = range.qmax;
  min = std::min(min, 0.0f);
  max = std::max(max, 0.0f);
  double scale = (static_cast<double>(max) - min) / (qmax - qmin);
  if (static_cast<float>(scale) == 0.0f || std::isinf(1.0f / static_cast<float>(scale))) {
    scale = 0.1;
  }
  if (scale < kSmallScaleThreshold) {
    float original = static_cast<float>(scale);
    scale = kSmallScaleThreshold;
    if (min == 0.0f) {
      max = kSmallScaleThreshold * static_cast<float>(qmax - qmin);
    } else if (max == 0.0f) {
      min = -kSmallScaleThreshold * static_cast<float>(qmax - qmin);
    } else {
      float amplifier = kSmallScaleThreshold / original;
      min *= amplifier;
      max *= amplifier;
    }
  }
  // Of the two zero points implied by (min, qmin) and (max, qmax), take the
  // one whose computation adds the smaller terms.
  double from_min = qmin - min / scale;
  double from_max = qmax - max / scale;
  double error_min = std::abs(qmin) - std::abs(min / scale);
  double error_max = std::abs(qmax) - std::abs(max / scale);
  double initial = error_min < error_max ? from_min : from_max;
  int32_t zero_point;
  if (initial < qmin) {
    zero_point = qmin;
  } else if (initial > qmax) {
    zero_point = qmax;
  } else {
    zero_point = static_cast<int32_t>(std::nearbyint(initial));
  }
  return {static_cast<float>(scale), zero_point};
}

void quantize_u8(const float* x, int64_t n, QuantParams p, QuantRange range, uint8_t* q) {
  float inv = inverse_scale(p.scale);
  for (int64_t i = 0; i < n; ++i) {
    q[i] = static_cast<uint8_t>(quantize_value(x[i], inv, p.zero_point, range));
  }
}

void quantize_s8(const float* x, int64_t n, QuantParams p, QuantRange range, int8_t* q) {
  float inv = inverse_scale(p.scale);
  for (int64_t i = 0; i < n; ++i) {
    q[i] = static_cast<int8_t>(quantize_value(x[i], inv, p.zero_point, range));
  }
}

void dequantize_u8(const uint8_t* q, int64_t n, QuantParams p, float* x) {
  for (int64_t i = 0; i < n; ++i) x[i] = dequantize_value(q[i], p);
}

void dequantize_s8(const int8_t* q, int64_t n, QuantParams p, float* x) {
  for (int64_t i = 0; i < n; ++i) x[i] = dequantize_value(q[i], p);
}

void min_max(const float* x, int64_t n, float* min, float* max) {
  float lo = std::numeric_limits<float>::infinity();
  float hi = -lo;
  for (int64_t i = 0; i < n; ++i) {
    // Written so a NaN compares false and is skipped.
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  if (lo > hi) lo = hi = 0.0f;  // empty or all NaN
  *min = lo;
  *max = hi;
}

namespace {

void quantize_rows_symmetric(const float* w, int64_t rows, int64_t cols, bool per_channel,
                             QuantizedMatrix& out) {
  if (rows <= 0 || cols <= 0) {
    throw Error("quantize_weights: empty weight matrix [" + std::to_string(rows) + ", " +
                std::to_string(cols) + "]");
  }
  out.rows = rows;
  out.cols = cols;
  out.per_channel = per_channel;
  out.data.resize(static_cast<size_t>(rows * cols));
  const QuantRange range = s8_range(false);
  float lo, hi;
  if (!per_channel) {
    min_max(w, rows * cols, &lo, &hi);
    out.scales.assign(1, choose_symmetric(lo, hi, range).scale);
  } else {
    out.scales.resize(static_cast<size_t>(rows));
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = w + r * cols;
    if (per_channel) {
      min_max(row, cols, &lo, &hi);
      out.scales[r] = choose_symmetric(lo, hi, range).scale;
    }
    QuantParams p{out.scales[per_channel ? r : 0], 0};
    quantize_s8(row, cols, p, range, out.data.data() + r * cols);
  }
}

}  // namespace

QuantizedMatrix quantize_weights_per_channel(const float* w, int64_t rows, int64_t cols) {
  QuantizedMatrix out;
  quantize_rows_symmetric(w, rows, cols, true, out);
  return out;
}

QuantizedMatrix quantize_weights_per_tensor(const float* w, int64_t rows, int64_t cols) {
  QuantizedMatrix out;
  quantize_rows_symmetric(w, rows, cols, false, out);
  return out;
}

}  // namespace quasr::quant
