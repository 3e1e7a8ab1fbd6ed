// fp32 fully connected layer y = act(x · Wᵀ + b) on AVX2 FMAs, for CPUs
// without AVX-512: quasr's own GEMM with the bias and GELU applied to each
// tile in registers as it is finished.
//
// Why not oneDNN: on the project's AVX2-only machine (AMD EPYC, Zen 3)
// oneDNN 2.6's f32 matmul ran the large model's linears at 50-55 GMAC/s on
// two cores in the model, and at utterance lengths (M = 300) 20-47 GMAC/s on
// one core in quasr_gemm_bench (BM_Fp32), where this kernel runs 38-41
// (BM_Avx2F32; its micro-kernel alone 44, the FMA units ~48). Here the
// weights are packed once into 16-column panels, slice by slice of 256
// values of k (one contiguous run per slice); a micro-kernel keeps 6 rows x
// 16 columns of sums in 12 registers (per k: 6 broadcasts, 2 weight loads,
// 12 FMAs), so a panel's slice (16 KiB) stays in L1 while every row of a
// chunk passes by. The chunk's rows are first packed per slice, 6 rows
// interleaved, and partial sums wait between slices in a per-thread buffer:
// rows of x and y 4 or 16 KiB apart fall in one L1 set, and read in place
// they evicted the panel's lines. The threads split the panels (each weight
// comes from memory once), or the rows where there are few panels.
//
// The extractor's convs run on it too (model/module_tree.cc, MatmulConv).
//
// Layouts as PackedMatmulF32: x [m, k] and y [m, n] row-major with row
// strides; rows of x may overlap (a convolution's windows over time-major
// input). W in nn.Linear's [n, k].
//
// Summation order: k ascending within each output, one FMA per term, so the
// result is exact fp32 arithmetic in one fixed order (not oneDNN's bits).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/packed_matmul.h"
#include "kernels/weight_memory.h"

namespace quasr::kernels {

class Avx2F32Linear {
 public:
  // The CPU has AVX2 and FMA.
  static bool available();
  static bool supports(int64_t n, int64_t k) { return n > 0 && k > 0 && n % 16 == 0; }

  // bias may be null.
  Avx2F32Linear(const float* weight_nk, const float* bias, int64_t n, int64_t k,
                Activation activation);

  void run(const float* x, int64_t m, int64_t x_row_stride, float* y, int64_t y_row_stride) const;
  void run(const float* x, int64_t m, float* y) const { run(x, m, k_, y, n_); }

  int64_t in_features() const { return k_; }
  int64_t out_features() const { return n_; }

 private:
  // Rows [0, m) of x times panels [first_panel, last_panel), on this thread.
  void run_rows(const float* x, int64_t m, int64_t x_row_stride, float* y, int64_t y_row_stride,
                int64_t first_panel, int64_t last_panel) const;

  int64_t n_;
  int64_t k_;
  Activation activation_;
  std::vector<float> bias_;  // n values, zeros where absent
  WeightMemory weights_;
};

}  // namespace quasr::kernels
