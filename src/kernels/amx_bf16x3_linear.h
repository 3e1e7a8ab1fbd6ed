// fp32 fully connected layer y = act(x · Wᵀ + b) on AMX bf16 tiles, "bf16x3":
// every fp32 operand is split into two bf16 halves, v = hi + lo (hi = v
// rounded to bf16, lo = the rest rounded to bf16: 16 of fp32's 24 mantissa
// bits), and x · w = hi·hi + hi·lo + lo·hi in fp32 accumulators (the lo·lo
// term and the bits past 16 are what is lost: about 2^-16 of each product,
// against fp32 rounding's 2^-24).
//
// Why: the tile unit multiplies bf16 pairs ~16x as fast as AVX-512 FMAs
// multiply fp32 (512 vs 32 per cycle per core), so three products still run
// the transformer's fp32 linears 2.4-3x as fast as oneDNN's fp32 GEMM here
// (quasr_gemm_bench). The cost in accuracy, measured on the random-weight
// wav2vec2 models of bench/compare against PyTorch fp32, with the
// extractor's and positional convs on it too: max |Δ log-prob| 6e-5 (base)
// and 3.5e-5 (large), the order of ONNX Runtime's fp32 export (4.5e-5 on
// base; quasr's exact path 4.6e-5 and 5.3e-6). PyTorch calls this precision "high" (its
// set_float32_matmul_precision) and uses it only when asked; quasr uses it
// for fp32 linears unless LoadOptions::fp32_matmul says exact.
//
// An inf in x or W gives NaN (inf - inf in its lo half), where fp32 gives inf.
//
// Layouts as PackedMatmulF32: x [m, k] and y [m, n] row-major with row
// strides, W in nn.Linear's [n, k], packed once at construction (4 bytes per
// weight: the same memory as fp32).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/packed_matmul.h"
#include "kernels/weight_memory.h"

namespace quasr::kernels {

class AmxBf16x3Linear {
 public:
  // AMX-BF16 usable here (amx::usable).
  static bool available();
  static bool supports(int64_t n, int64_t k) { return n > 0 && k > 0 && k % 32 == 0; }

  // bias may be null.
  AmxBf16x3Linear(const float* weight_nk, const float* bias, int64_t n, int64_t k,
                  Activation activation);

  void run(const float* x, int64_t m, int64_t x_row_stride, float* y, int64_t y_row_stride) const;
  void run(const float* x, int64_t m, float* y) const { run(x, m, k_, y, n_); }

  int64_t in_features() const { return k_; }
  int64_t out_features() const { return n_; }

 private:
  int64_t n_;
  int64_t k_;
  int64_t panels_;
  Activation activation_;
  std::vector<float> bias_;  // n rounded up to whole panels; zeros where absent
  WeightMemory weights_;
};

}  // namespace quasr::kernels
