// The dequantizing epilogue of the int8 GEMMs, one output row at a time, in
// place: the row arrives as int32 accumulators Σ_l q[l] w[j, l] in the same
// memory the float result goes to, and leaves as
//   y[j] = act(x_scale * w_scale[j] * (acc[j] - x_zero_point * w_sum[j]) + bias[j]).
// AVX-512 and AVX2 paths (chosen by isa_level()) and a scalar one; the
// vector GELU uses a polynomial erf within 2e-7 of std::erf.
#pragma once

#include <cstdint>

#include "core/cpu_features.h"
#include "kernels/packed_matmul.h"

namespace quasr::kernels::int8_detail {

struct EpilogueRow {
  float x_scale = 1.0f;
  int32_t x_zero_point = 0;
  const float* w_scales = nullptr;  // n values
  const int32_t* w_sums = nullptr;  // n values
  const float* bias = nullptr;      // n values or null
  Activation activation = Activation::kNone;
};

// row points at n int32 accumulators; on return it holds n floats.
void dequantize_row_in_place(void* row, int64_t n, const EpilogueRow& params, IsaLevel isa);

// In-place exact-erf GELU over n floats (vectorised where the ISA allows).
void gelu_in_place(float* x, int64_t n, IsaLevel isa);

}  // namespace quasr::kernels::int8_detail
