#include "kernels/int8/row_quantize.h"

#include "kernels/vector_math_avx512.h"

#include <immintrin.h>

// GCC 12's AVX-512 headers build some intrinsics (abs, reductions, masked
// conversions) from a deliberately undefined vector and warn about it.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <limits>

namespace quasr::kernels::int8_detail {
namespace {

void min_max_scalar(const float* x, int64_t k, float* min, float* max) {
  quant::min_max(x, k, min, max);
}

__attribute__((target("avx512f"))) void min_max_avx512(const float* x, int64_t k, float* min,
                                                       float* max) {
  const float inf = std::numeric_limits<float>::infinity();
  // min/max_ps return the second operand when either is NaN: keeping the
  // running value second skips NaNs, as the scalar version does (so no
  // running value is ever NaN, and merging them needs no care). Four of
  // each, 64 values a step: with one, every 16 values waited on the
  // previous min's latency.
  __m512 lows[4], highs[4];
  for (int j = 0; j < 4; ++j) lows[j] = _mm512_set1_ps(inf), highs[j] = _mm512_set1_ps(-inf);
  int64_t i = 0;
  for (; i + 64 <= k; i += 64) {
    for (int j = 0; j < 4; ++j) {
      const __m512 v = _mm512_loadu_ps(x + i + 16 * j);
      lows[j] = _mm512_min_ps(v, lows[j]);
      highs[j] = _mm512_max_ps(v, highs[j]);
    }
  }
  __m512 lo = _mm512_min_ps(_mm512_min_ps(lows[0], lows[1]), _mm512_min_ps(lows[2], lows[3]));
  __m512 hi = _mm512_max_ps(_mm512_max_ps(highs[0], highs[1]), _mm512_max_ps(highs[2], highs[3]));
  for (; i + 16 <= k; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    lo = _mm512_min_ps(v, lo);
    hi = _mm512_max_ps(v, hi);
  }
  if (i < k) {
    __mmask16 mask = static_cast<__mmask16>((1u << (k - i)) - 1u);
    __m512 v = _mm512_maskz_loadu_ps(mask, x + i);
    lo = _mm512_mask_min_ps(lo, mask, v, lo);
    hi = _mm512_mask_max_ps(hi, mask, v, hi);
  }
  float a = _mm512_reduce_min_ps(lo);
  float b = _mm512_reduce_max_ps(hi);
  if (a > b) a = b = 0.0f;
  *min = a;
  *max = b;
}

__attribute__((target("avx2"))) void min_max_avx2(const float* x, int64_t k, float* min,
                                                  float* max) {
  const float inf = std::numeric_limits<float>::infinity();
  __m256 lo = _mm256_set1_ps(inf);
  __m256 hi = _mm256_set1_ps(-inf);
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    lo = _mm256_min_ps(v, lo);
    hi = _mm256_max_ps(v, hi);
  }
  alignas(32) float l[8], h[8];
  _mm256_store_ps(l, lo);
  _mm256_store_ps(h, hi);
  float a = inf, b = -inf;
  for (int j = 0; j < 8; ++j) {
    a = l[j] < a ? l[j] : a;
    b = h[j] > b ? h[j] : b;
  }
  for (; i < k; ++i) {
    a = x[i] < a ? x[i] : a;
    b = x[i] > b ? x[i] : b;
  }
  if (a > b) a = b = 0.0f;
  *min = a;
  *max = b;
}

void quantize_scalar(const float* x, int64_t k, float inv, int32_t zp, quant::QuantRange range,
                     uint8_t* q) {
  for (int64_t i = 0; i < k; ++i) {
    q[i] = static_cast<uint8_t>(quant::quantize_value(x[i], inv, zp, range));
  }
}

template <bool kClamp>
__attribute__((target("avx512f,fma"))) inline __m512i quantize16(__m512 x, __m512 inv, __m512 zp,
                                                                 __m512 lo, __m512 hi) {
  __m512 v = _mm512_fmadd_ps(x, inv, zp);
  if constexpr (kClamp) v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
  return _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// kClamp false: the main loop leaves the clamp to the saturating packs (see
// quantize_own_range_row_u8); the tail, converted by truncation, clamps.
template <bool kClamp>
__attribute__((target("avx512f,avx512bw,avx512vl,fma"))) void quantize_avx512(
    const float* x, int64_t k, float inv, int32_t zp, quant::QuantRange range, uint8_t* q) {
  const __m512 inv_v = _mm512_set1_ps(inv);
  const __m512 zp_v = _mm512_set1_ps(static_cast<float>(zp));
  // Clamp in float before converting: out-of-range and NaN inputs then never
  // reach the integer conversion (max(NaN, lo) = lo, as the scalar code).
  // Clamping to integer bounds commutes with rounding to nearest, so the
  // conversion rounds (to nearest even) after the clamp.
  const __m512 lo = _mm512_set1_ps(static_cast<float>(range.qmin));
  const __m512 hi = _mm512_set1_ps(static_cast<float>(range.qmax));
  // 64 values a time, packed to bytes by two saturating packs (in-lane, so a
  // dword permute restores the order).
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  int64_t i = 0;
  for (; i + 64 <= k; i += 64) {
    __m512i w[4];
    for (int j = 0; j < 4; ++j)
      w[j] = quantize16<kClamp>(_mm512_loadu_ps(x + i + 16 * j), inv_v, zp_v, lo, hi);
    const __m512i bytes =
        _mm512_packus_epi16(_mm512_packs_epi32(w[0], w[1]), _mm512_packs_epi32(w[2], w[3]));
    _mm512_storeu_si512(q + i, _mm512_permutexvar_epi32(order, bytes));
  }
  for (; i < k; i += 16) {
    const __mmask16 mask = avx512::tail_mask(k - i);
    const __m512i w = quantize16<true>(_mm512_maskz_loadu_ps(mask, x + i), inv_v, zp_v, lo, hi);
    _mm_mask_storeu_epi8(q + i, mask, _mm512_cvtepi32_epi8(w));
  }
}

__attribute__((target("avx2,fma"))) void quantize_avx2(const float* x, int64_t k, float inv,
                                                       int32_t zp, quant::QuantRange range,
                                                       uint8_t* q) {
  const __m256 inv_v = _mm256_set1_ps(inv);
  const __m256 zp_v = _mm256_set1_ps(static_cast<float>(zp));
  const __m256 lo = _mm256_set1_ps(static_cast<float>(range.qmin));
  const __m256 hi = _mm256_set1_ps(static_cast<float>(range.qmax));
  const __m256i gather = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), inv_v, zp_v);
    v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    __m256i w = _mm256_cvttps_epi32(v);
    // 8 x i32 -> 8 bytes: the packs work per 128-bit lane, leaving 4 bytes at
    // the bottom of each lane; the permute brings the two dwords together.
    __m256i p = _mm256_packus_epi16(_mm256_packs_epi32(w, w), _mm256_setzero_si256());
    p = _mm256_permutevar8x32_epi32(p, gather);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), _mm256_castsi256_si128(p));
  }
  quantize_scalar(x + i, k - i, inv, zp, range, q + i);
}

}  // namespace

void row_min_max(const float* x, int64_t k, float* min, float* max, IsaLevel isa) {
  if (isa >= IsaLevel::kAvx512) return min_max_avx512(x, k, min, max);
  if (isa == IsaLevel::kAvx2) return min_max_avx2(x, k, min, max);
  min_max_scalar(x, k, min, max);
}

void quantize_row_u8(const float* x, int64_t k, float inv_scale, int32_t zero_point,
                     quant::QuantRange range, uint8_t* q, IsaLevel isa) {
  if (isa >= IsaLevel::kAvx512) return quantize_avx512<true>(x, k, inv_scale, zero_point, range, q);
  if (isa == IsaLevel::kAvx2) return quantize_avx2(x, k, inv_scale, zero_point, range, q);
  quantize_scalar(x, k, inv_scale, zero_point, range, q);
}

void quantize_own_range_row_u8(const float* x, int64_t k, float inv_scale, int32_t zero_point,
                               quant::QuantRange range, uint8_t* q, IsaLevel isa) {
  if (isa >= IsaLevel::kAvx512 && range.qmin == 0 && range.qmax == 255)
    return quantize_avx512<false>(x, k, inv_scale, zero_point, range, q);
  quantize_row_u8(x, k, inv_scale, zero_point, range, q, isa);
}

}  // namespace quasr::kernels::int8_detail
