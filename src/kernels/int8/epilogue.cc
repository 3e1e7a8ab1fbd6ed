#include "kernels/int8/epilogue.h"

#include <immintrin.h>

// GCC 12's AVX-512 headers build some intrinsics (abs, reductions, masked
// conversions) from a deliberately undefined vector and warn about it.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cstdint>
#include <cstring>

#include "kernels/elementwise.h"
#include "kernels/vector_math_avx2.h"
#include "kernels/vector_math_avx512.h"

namespace quasr::kernels::int8_detail {
namespace {

// acc and out may be the same memory (the in-place form): each value is
// read before its slot is written.
void dequantize_scalar(const void* acc_row, float* out, int64_t n, const EpilogueRow& p) {
  const char* bytes = static_cast<const char*>(acc_row);
  for (int64_t j = 0; j < n; ++j) {
    int32_t acc;
    std::memcpy(&acc, bytes + 4 * j, 4);
    acc -= p.x_zero_point * p.w_sums[j];
    float v = static_cast<float>(acc) * (p.x_scale * p.w_scales[j]);
    if (p.bias) v += p.bias[j];
    std::memcpy(out + j, &v, 4);
  }
  if (p.activation == Activation::kGelu) gelu_erf_row(out, n, IsaLevel::kRef);
}

// 16 columns from j (all of them, or those under the mask m).
template <bool kBias, bool kGelu>
__attribute__((target("avx512f,fma"))) inline __m512 dequantize16(const void* acc_row, int64_t j,
                                                                  __mmask16 m, __m512i zp,
                                                                  __m512 xs, const EpilogueRow& p) {
  __m512i acc = _mm512_maskz_loadu_epi32(m, static_cast<const int32_t*>(acc_row) + j);
  acc = _mm512_sub_epi32(acc, _mm512_mullo_epi32(zp, _mm512_maskz_loadu_epi32(m, p.w_sums + j)));
  __m512 scale = _mm512_mul_ps(xs, _mm512_maskz_loadu_ps(m, p.w_scales + j));
  __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale);
  // Rounded product, then the add, as the scalar and AVX2 paths do; a plain
  // _mm512_add_ps here would be fused with the multiply into an FMA by GCC
  // (other bits). The explicit-rounding form is the same add, never fused.
  if constexpr (kBias)
    v = _mm512_add_round_ps(v, _mm512_maskz_loadu_ps(m, p.bias + j),
                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  if constexpr (kGelu) v = avx512::gelu(v);
  return v;
}

// The full-width loop has a constant mask (the compiler drops it) and no
// branches: a mask computed per iteration and the bias/GELU tests cost this
// loop a fifth of its time.
template <bool kBias, bool kGelu>
__attribute__((target("avx512f,fma"))) void dequantize_avx512(const void* acc, float* y, int64_t n,
                                                              const EpilogueRow& p) {
  const __m512i zp = _mm512_set1_epi32(p.x_zero_point);
  const __m512 xs = _mm512_set1_ps(p.x_scale);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    _mm512_storeu_ps(y + j, dequantize16<kBias, kGelu>(acc, j, 0xFFFF, zp, xs, p));
  if (j < n) {
    const __mmask16 m = avx512::tail_mask(n - j);
    _mm512_mask_storeu_ps(y + j, m, dequantize16<kBias, kGelu>(acc, j, m, zp, xs, p));
  }
}

void dequantize_avx512(const void* acc, float* y, int64_t n, const EpilogueRow& p) {
  const bool gelu = p.activation == Activation::kGelu;
  if (p.bias) {
    gelu ? dequantize_avx512<true, true>(acc, y, n, p)
         : dequantize_avx512<true, false>(acc, y, n, p);
  } else {
    gelu ? dequantize_avx512<false, true>(acc, y, n, p)
         : dequantize_avx512<false, false>(acc, y, n, p);
  }
}

// A 32-column block, per-column vectors loaded once: per row the work is
// two vectors, so a call per row would cost more than the row itself.
// Same operations, in the same order, as dequantize16 (same bits).
template <bool kBias, bool kGelu>
__attribute__((target("avx512f,fma"))) void dequantize_block32_avx512(
    const int32_t* acc, int64_t rows, const quant::QuantParams* x_params, int64_t params_step,
    const EpilogueRow& p, float* y, int64_t y_stride) {
  const __m512i sums[2] = {_mm512_loadu_si512(p.w_sums), _mm512_loadu_si512(p.w_sums + 16)};
  const __m512 w_scales[2] = {_mm512_loadu_ps(p.w_scales), _mm512_loadu_ps(p.w_scales + 16)};
  __m512 bias[2] = {};
  if constexpr (kBias) bias[0] = _mm512_loadu_ps(p.bias), bias[1] = _mm512_loadu_ps(p.bias + 16);
  for (int64_t r = 0; r < rows; ++r) {
    const quant::QuantParams x = x_params[r * params_step];
    const __m512i zp = _mm512_set1_epi32(x.zero_point);
    const __m512 xs = _mm512_set1_ps(x.scale);
    for (int h = 0; h < 2; ++h) {
      __m512i a = _mm512_loadu_si512(acc + r * 32 + h * 16);
      a = _mm512_sub_epi32(a, _mm512_mullo_epi32(zp, sums[h]));
      __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_mul_ps(xs, w_scales[h]));
      if constexpr (kBias)
        v = _mm512_add_round_ps(v, bias[h], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      if constexpr (kGelu) v = avx512::gelu(v);
      _mm512_storeu_ps(y + r * y_stride + h * 16, v);
    }
  }
}

// The rounded product, kept from being fused with the bias add into an FMA
// (GCC contracts the two intrinsics otherwise, as it pleases per call site):
// the scalar and AVX-512 paths round the product too.
__attribute__((target("avx2,fma"))) inline __m256 unfused(__m256 product) {
  __asm__("" : "+x"(product));
  return product;
}

__attribute__((target("avx2,fma"))) void dequantize_avx2(const void* acc_row, float* y, int64_t n,
                                                         const EpilogueRow& p) {
  const int32_t* accs = static_cast<const int32_t*>(acc_row);
  const __m256i zp = _mm256_set1_epi32(p.x_zero_point);
  const __m256 xs = _mm256_set1_ps(p.x_scale);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256i acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(accs + j));
    __m256i sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.w_sums + j));
    acc = _mm256_sub_epi32(acc, _mm256_mullo_epi32(zp, sums));
    __m256 v = unfused(
        _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_mul_ps(xs, _mm256_loadu_ps(p.w_scales + j))));
    if (p.bias) v = _mm256_add_ps(v, _mm256_loadu_ps(p.bias + j));
    _mm256_storeu_ps(y + j, v);
  }
  EpilogueRow tail = p;
  tail.w_scales += j;
  tail.w_sums += j;
  if (tail.bias) tail.bias += j;
  tail.activation = Activation::kNone;
  dequantize_scalar(accs + j, y + j, n - j, tail);
  if (p.activation == Activation::kGelu) avx2::gelu_n(y, n);
}

// dequantize_avx2's values for a 32-column block, per-column vectors loaded
// once: called row by row, the call, the tail handling and a separate GELU
// pass over 32 values cost the AVX2 int8 Linear's epilogue about 2.5x its
// time (perf, large int8-all). Same expressions as dequantize_avx2.
template <bool kBias, bool kGelu>
__attribute__((target("avx2,fma"))) void dequantize_block32_avx2(const int32_t* acc, int64_t rows,
                                                                 const quant::QuantParams* x_params,
                                                                 int64_t params_step,
                                                                 const EpilogueRow& p, float* y,
                                                                 int64_t y_stride) {
  __m256i sums[4];
  __m256 w_scales[4], bias[4];
  for (int q = 0; q < 4; ++q) {
    sums[q] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.w_sums + 8 * q));
    w_scales[q] = _mm256_loadu_ps(p.w_scales + 8 * q);
    bias[q] = kBias ? _mm256_loadu_ps(p.bias + 8 * q) : _mm256_setzero_ps();
  }
  for (int64_t r = 0; r < rows; ++r) {
    const quant::QuantParams x = x_params[r * params_step];
    const __m256i zp = _mm256_set1_epi32(x.zero_point);
    const __m256 xs = _mm256_set1_ps(x.scale);
    for (int q = 0; q < 4; ++q) {
      __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + r * 32 + 8 * q));
      a = _mm256_sub_epi32(a, _mm256_mullo_epi32(zp, sums[q]));
      __m256 v = unfused(_mm256_mul_ps(_mm256_cvtepi32_ps(a), _mm256_mul_ps(xs, w_scales[q])));
      if constexpr (kBias) v = _mm256_add_ps(v, bias[q]);
      if constexpr (kGelu) v = avx2::gelu(v);
      _mm256_storeu_ps(y + r * y_stride + 8 * q, v);
    }
  }
}

}  // namespace

void dequantize_row(const int32_t* acc, float* out, int64_t n, const EpilogueRow& params,
                    IsaLevel isa) {
  if (isa >= IsaLevel::kAvx512) return dequantize_avx512(acc, out, n, params);
  if (isa == IsaLevel::kAvx2) return dequantize_avx2(acc, out, n, params);
  dequantize_scalar(acc, out, n, params);
}

void dequantize_block(const int32_t* acc, int64_t rows, int64_t cols,
                      const quant::QuantParams* x_params, int64_t params_step,
                      const EpilogueRow& columns, float* y, int64_t y_stride, IsaLevel isa) {
  if (isa >= IsaLevel::kAvx512 && cols == 32) {
    const bool gelu = columns.activation == Activation::kGelu;
    auto block = columns.bias ? (gelu ? dequantize_block32_avx512<true, true>
                                      : dequantize_block32_avx512<true, false>)
                              : (gelu ? dequantize_block32_avx512<false, true>
                                      : dequantize_block32_avx512<false, false>);
    return block(acc, rows, x_params, params_step, columns, y, y_stride);
  }
  if (isa == IsaLevel::kAvx2 && cols == 32) {
    const bool gelu = columns.activation == Activation::kGelu;
    auto block =
        columns.bias
            ? (gelu ? dequantize_block32_avx2<true, true> : dequantize_block32_avx2<true, false>)
            : (gelu ? dequantize_block32_avx2<false, true> : dequantize_block32_avx2<false, false>);
    return block(acc, rows, x_params, params_step, columns, y, y_stride);
  }
  EpilogueRow row = columns;
  for (int64_t r = 0; r < rows; ++r) {
    row.x_scale = x_params[r * params_step].scale;
    row.x_zero_point = x_params[r * params_step].zero_point;
    dequantize_row(acc + r * 32, y + r * y_stride, cols, row, isa);
  }
}

void dequantize_row_in_place(void* row, int64_t n, const EpilogueRow& params, IsaLevel isa) {
  // Same memory in and out: every path reads a value before writing its slot.
  float* out = static_cast<float*>(row);
  if (isa >= IsaLevel::kAvx512) return dequantize_avx512(row, out, n, params);
  if (isa == IsaLevel::kAvx2) return dequantize_avx2(row, out, n, params);
  dequantize_scalar(row, out, n, params);
}

}  // namespace quasr::kernels::int8_detail
