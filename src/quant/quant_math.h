// Affine int8 quantization math shared by calibration, the kernels and the
// model files: q = clamp(round(x / scale) + zero_point, qmin, qmax) and
// x ≈ scale * (q - zero_point), round half to even as torch.round/nearbyint.
//
// Two ways of choosing (scale, zero_point) from a range exist because PyTorch
// has two, and quasr reproduces both where it claims PyTorch parity:
//  * observer params (torch.ao.quantization.observer._calculate_qparams), used
//    for static activations and for weights;
//  * fbgemm's ChooseQuantizationParams, what quantized::linear_dynamic uses to
//    quantize activations at run time (a nudged zero point, float scale from a
//    double computation, a small-scale threshold).
// Both extend the range to include 0, so 0.0 is exactly representable (zero
// padding, ReLU/GELU zeros).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace quasr::quant {

struct QuantParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

struct QuantRange {
  int32_t qmin = 0;
  int32_t qmax = 255;
};

// quint8: 0..255, or 0..127 with reduce_range (PyTorch's x86 activations keep
// one bit free so u8×s8 pairs cannot saturate VPMADDUBSW's int16 sums).
QuantRange u8_range(bool reduce_range);
// qint8: -128..127, or -64..63 with reduce_range.
QuantRange s8_range(bool reduce_range);

// float32 machine epsilon: PyTorch's lower bound for a chosen scale.
constexpr float kMinScale = 1.1920928955078125e-07f;

// Observer convention, asymmetric (per_tensor_affine):
//   scale = (max(max,0) - min(min,0)) / (qmax - qmin), at least kMinScale;
//   zero_point = clamp(qmin - round(min(min,0) / scale), qmin, qmax).
QuantParams choose_asymmetric(float min, float max, QuantRange range);
// Observer convention, symmetric (per_tensor_symmetric / per_channel_symmetric):
//   scale = max(-min, max, 0) / ((qmax - qmin) / 2), at least kMinScale;
//   zero_point = 0 for a signed range, 128 for the full u8 range and
//   (qmin + qmax) / 2 for a reduced one, as PyTorch.
QuantParams choose_symmetric(float min, float max, QuantRange range);
// fbgemm/ATen ChooseQuantizationParams (no sparsity preservation, no
// power-of-two scale): the parameters quantized::linear_dynamic picks for its
// input on x86, given the input's min and max.
QuantParams choose_dynamic_fbgemm(float min, float max, QuantRange range);

// Every quantizer in quasr (scalar, AVX2, AVX-512) computes
//   q = clamp(nearbyint(fma(x, 1/scale, zero_point)), qmin, qmax)
// with 1/scale rounded to float, as fbgemm's AVX2 quantizer does, so quasr and
// PyTorch pick the same integer even at ties, and every ISA path agrees.
inline float inverse_scale(float scale) {
  return 1.0f / scale;
}

inline int32_t quantize_value(float x, float inv_scale, int32_t zero_point, QuantRange range) {
  float q = std::nearbyint(std::fma(x, inv_scale, static_cast<float>(zero_point)));
  if (!(q >= static_cast<float>(range.qmin))) return range.qmin;  // also NaN -> qmin
  if (q > static_cast<float>(range.qmax)) return range.qmax;
  return static_cast<int32_t>(q);
}

inline float dequantize_value(int32_t q, QuantParams p) {
  return p.scale * static_cast<float>(q - p.zero_point);
}

// Element-wise quantization of n values (scalar; the kernels have their own
// vectorised row quantizers that give the same integers).
void quantize_u8(const float* x, int64_t n, QuantParams p, QuantRange range, uint8_t* q);
void quantize_s8(const float* x, int64_t n, QuantParams p, QuantRange range, int8_t* q);
void dequantize_u8(const uint8_t* q, int64_t n, QuantParams p, float* x);
void dequantize_s8(const int8_t* q, int64_t n, QuantParams p, float* x);

// Minimum and maximum of n floats (n >= 1); NaNs are ignored.
void min_max(const float* x, int64_t n, float* min, float* max);

// A symmetrically quantized weight matrix: [rows, cols] row-major int8 (one
// output channel per row, PyTorch's nn.Linear layout, or a conv weight
// flattened to [c_out, c_in/groups * kernel]) and its scales: one per row, or
// a single one for the whole matrix. Zero points are all 0.
struct QuantizedMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int8_t> data;
  std::vector<float> scales;  // size rows (per channel) or 1 (per tensor)
  bool per_channel = true;
};

// qint8 symmetric over -128..127 with scale = amax / 127.5, exactly PyTorch's
// default weight observers (per_tensor_symmetric / per_channel_symmetric),
// so a per-tensor matrix equals quantize_dynamic's weight int_repr.
QuantizedMatrix quantize_weights_per_channel(const float* w, int64_t rows, int64_t cols);
QuantizedMatrix quantize_weights_per_tensor(const float* w, int64_t rows, int64_t cols);

}  // namespace quasr::quant
