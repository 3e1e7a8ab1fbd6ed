// The dequantizing epilogue of the int8 GEMMs: int32 accumulators
// Σ_l q[l] w[j, l] become
//   y[j] = act(x_scale * w_scale[j] * (acc[j] - x_zero_point * w_sum[j]) + bias[j]),
// a row at a time (in place or into other memory) or a block of rows of up
// to 32 columns, as quasr's AMX GEMM hands them over.
// AVX-512 and AVX2 paths (chosen by isa_level()) and a scalar one; the
// vector GELU uses a polynomial erf within 2e-7 of std::erf.
#pragma once

#include <cstdint>

#include "core/cpu_features.h"
#include "kernels/packed_matmul.h"
#include "quant/quant_math.h"

namespace quasr::kernels::int8_detail {

struct EpilogueRow {
  float x_scale = 1.0f;
  int32_t x_zero_point = 0;
  const float* w_scales = nullptr;  // n values
  const int32_t* w_sums = nullptr;  // n values
  const float* bias = nullptr;      // n values or null
  Activation activation = Activation::kNone;

  // The same epilogue for the columns from `first` on (a column block or a
  // convolution group).
  EpilogueRow from_column(int64_t first) const {
    EpilogueRow shifted = *this;
    shifted.w_scales += first;
    shifted.w_sums += first;
    if (shifted.bias) shifted.bias += first;
    return shifted;
  }
};

// acc: n int32 accumulators; out: n floats (other memory).
void dequantize_row(const int32_t* acc, float* out, int64_t n, const EpilogueRow& params,
                    IsaLevel isa);
// A block of cols <= 32 columns: acc [rows, cols] (row stride 32) to y (row
// stride y_stride); columns holds the block's first column's weight scales,
// sums and bias; row r's x scale and zero point are x_params[r * params_step]
// (params_step 0: one for all rows). Same values as dequantize_row.
void dequantize_block(const int32_t* acc, int64_t rows, int64_t cols,
                      const quant::QuantParams* x_params, int64_t params_step,
                      const EpilogueRow& columns, float* y, int64_t y_stride, IsaLevel isa);
// row points at n int32 accumulators; on return it holds n floats.
void dequantize_row_in_place(void* row, int64_t n, const EpilogueRow& params, IsaLevel isa);

}  // namespace quasr::kernels::int8_detail
