// Run-time activation quantization for the int8 kernels: row statistics and
// f32 -> u8 conversion, vectorised for AVX-512 and AVX2 with a scalar
// fallback, chosen by isa_level(). Every path computes
//   q = clamp(nearbyint(fma(x, inv_scale, zero_point)), qmin, qmax)
// (quant/quant_math.h), so all paths give identical bytes.
//
// Layout: x is [m, k] with row stride x_stride (floats); q is [m, k] with row
// stride q_stride (bytes). Rows are independent; the caller parallelises.
#pragma once

#include <cstdint>

#include "core/cpu_features.h"
#include "quant/quant_math.h"

namespace quasr::kernels::int8_detail {

// Minimum and maximum of one row of k floats (NaN ignored; 0, 0 if none).
void row_min_max(const float* x, int64_t k, float* min, float* max, IsaLevel isa);

// q[i] = quantize(x[i]) for i < k.
void quantize_row_u8(const float* x, int64_t k, float inv_scale, int32_t zero_point,
                     quant::QuantRange range, uint8_t* q, IsaLevel isa);
// The same for a row whose parameters came from its own min and max
// (choose_dynamic_fbgemm): every value then lands within one step of the
// range, and with the full 0..255 range the saturating packs to bytes clamp
// it as the float clamp would. Same bytes, two instructions fewer per 16.
void quantize_own_range_row_u8(const float* x, int64_t k, float inv_scale, int32_t zero_point,
                               quant::QuantRange range, uint8_t* q, IsaLevel isa);

}  // namespace quasr::kernels::int8_detail
