// Int8 linear and convolution on oneDNN's u8×s8→s32 primitives with a fused
// dequantize + bias (+ GELU) epilogue.
//
// Activations are u8 asymmetric: x ≈ (q - zp) * s. Weights are s8 symmetric,
// one scale per output channel (or one for all). The s32 accumulator of
// Σ q·w is corrected with the precomputed weight sums: Σ (q - zp)·w =
// acc - zp * Σ w, so one kernel serves dynamic per-row scales (each row its
// own s, zp, computed at run time) and static scales (fixed by calibration).
// Without AVX-512 VNNI the u8×s8 products go through a 16-bit saturating
// instruction, so activations use 7 bits there (0..127), as fbgemm does.
//
// Layouts as in packed_matmul.h / packed_conv1d.h. Weights are reordered once
// at construction; run() keeps per-thread scratch that only grows.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/packed_conv1d.h"
#include "kernels/packed_matmul.h"

namespace quasr::kernels {

// The largest u8 code activations use on this CPU: 255, or 127 without VNNI.
int activation_qmax();

struct ActivationQuant {
  enum class Mode { kDynamicPerRow, kDynamicPerTensor, kStatic };
  Mode mode = Mode::kDynamicPerRow;
  float scale = 0.0f;  // kStatic only
  int32_t zero_point = 0;
};

class Int8Linear {
 public:
  // weight: s8 [n, k] row-major; scales: n values, or 1 for per-tensor.
  Int8Linear(const int8_t* weight, const std::vector<float>& scales, const float* bias, int64_t n,
             int64_t k, ActivationQuant activation_quant, Activation activation);
  void run(const float* x, int64_t m, float* y) const;
  int64_t in_features() const { return k_; }
  int64_t out_features() const { return n_; }

 private:
  dnnl::matmul primitive_for(int64_t m) const;

  int64_t n_, k_;
  ActivationQuant quant_;
  Activation activation_;
  std::vector<float> weight_scales_;  // n values
  std::vector<int32_t> weight_sums_;  // Σ_k w[n, k]
  std::vector<float> bias_;
  dnnl::memory::desc weights_desc_;
  dnnl::memory weights_;
  mutable std::mutex mutex_;
  mutable std::map<int64_t, dnnl::matmul> primitives_;
};

// Static int8 1-D convolution (time-major). The input is quantized with the
// fixed scale into a buffer padded with the zero point, so padding means 0.0.
class Int8Conv1d {
 public:
  // weight: s8 [c_out, c_in/groups, kernel]; scales: c_out values or 1.
  Int8Conv1d(const Conv1dShape& shape, const int8_t* weight, const std::vector<float>& scales,
             const float* bias, float input_scale, int32_t input_zero_point, Activation activation);
  void run(const float* x, int64_t t_in, float* y) const;

 private:
  struct Prepared {
    dnnl::convolution_forward primitive;
    dnnl::memory weights;
  };
  Prepared prepared_for(int64_t padded_t_in) const;

  Conv1dShape shape_;
  float input_scale_;
  int32_t input_zero_point_;
  Activation activation_;
  std::vector<float> weight_scales_;
  std::vector<int32_t> weight_sums_;
  std::vector<float> bias_;
  dnnl::memory weights_;
  mutable std::mutex mutex_;
  mutable std::map<int64_t, Prepared> prepared_;
};

// u8 asymmetric scale and zero point covering [lo, hi] (widened to hold 0),
// codes 0..qmax.
void choose_u8_params(float lo, float hi, int qmax, float* scale, int32_t* zero_point);

// Symmetric s8 quantization of a [rows, cols] fp32 matrix, one scale per row
// (per_channel) or one for all: q = round_half_even(w / s), s = max|w| / 127.
void quantize_weights_s8(const float* weight, int64_t rows, int64_t cols, bool per_channel,
                         int8_t* out, std::vector<float>* scales);

}  // namespace quasr::kernels
