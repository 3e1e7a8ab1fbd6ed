// Scalar reference implementations of the int8 kernels: the definition the
// optimized paths are tested against, and the path QUASR_ISA=ref runs.
// Plain loops, int32 accumulation, no blocking.
#pragma once

#include <cstdint>

#include "kernels/int8/int8_weights.h"
#include "kernels/packed_conv1d.h"
#include "kernels/packed_matmul.h"
#include "quant/quant_math.h"

namespace quasr::kernels::int8_ref {

// Per-row (or, per_row false, one) activation parameters for [m, k] x, chosen
// with quant::choose_dynamic_fbgemm over the row's (or tensor's) min and max.
void choose_activation_params(const float* x, int64_t m, int64_t k, int64_t x_stride, bool per_row,
                              quant::QuantRange range, quant::QuantParams* params);

// y[i, j] = act(sx_i * sw_j * (Σ_l q[i, l] w[j, l] - zp_i * Σ_l w[j, l]) + b_j),
// q [m, k] u8 (row stride q_stride); params has m entries (per_row) or 1.
void linear_u8(const uint8_t* q, int64_t m, int64_t q_stride, const quant::QuantParams* params,
               bool per_row, const Int8Weights& w, const float* bias, Activation activation,
               float* y, int64_t y_stride);

// Quantize x (dynamic params as above) then linear_u8.
void dynamic_linear(const float* x, int64_t m, int64_t x_stride, bool per_row,
                    quant::QuantRange range, const Int8Weights& w, const float* bias,
                    Activation activation, float* y, int64_t y_stride);

// Quantize x with fixed params then linear_u8.
void static_linear(const float* x, int64_t m, int64_t x_stride, quant::QuantParams input,
                   quant::QuantRange range, const Int8Weights& w, const float* bias,
                   Activation activation, float* y, int64_t y_stride);

// Time-major conv (PackedConv1dF32 semantics) with u8 input of fixed params;
// w is [c_out, c_in/groups * kernel], PyTorch's weight flattened. Padding
// positions hold the real value 0.
void static_conv1d(const float* x, int64_t t_in, const Conv1dShape& shape, quant::QuantParams input,
                   quant::QuantRange range, const Int8Weights& w, const float* bias,
                   Activation activation, float* y);

}  // namespace quasr::kernels::int8_ref
