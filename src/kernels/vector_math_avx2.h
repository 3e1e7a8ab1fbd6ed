// AVX2 + FMA exp and GELU: vector_math_avx512.h's algorithms eight lanes at
// a time, for CPUs without AVX-512 (AMD Zen 2/3, older Intel), where the
// scalar libm erfc of every feed-forward output took 14 % of a large int8
// forward and expf in the softmax 5 %. Header-only so they inline into
// callers compiled with the same target attribute.
//
// Accuracy (tests/kernels/vector_math_test.cc checks it against double), as
// the AVX-512 versions:
//  - exp: relative error < 3e-7 for x in [-87, 88]; 0 below, +inf above.
//  - GELU: relative error < 1e-6 for every float x where GELU(x) is normal.
//
// What AVX2 lacks is done another way: 2^k (no VSCALEFPS) as two exponent-
// field multiplies, so results below 2^-126 round once into subnormals as
// scalef's do; 1/d (no 14-bit reciprocal) by a divide.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/vector_math_fits.h"

namespace quasr::kernels::avx2 {

// v * 2^k for integer-valued k in [-252, 254]: 2^(k/2) and 2^(k - k/2) are
// normal floats, and v times the first is exact for v near 1.
__attribute__((target("avx2,fma"))) inline __m256 scale_by_power_of_two(__m256 v, __m256 k) {
  const __m256i k_int = _mm256_cvtps_epi32(k);
  const __m256i first = _mm256_srai_epi32(k_int, 1);
  const __m256i second = _mm256_sub_epi32(k_int, first);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 first_power =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(first, bias), 23));
  const __m256 second_power =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(second, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(v, first_power), second_power);
}

// e^(hi + lo), lo small beside hi: see avx512::exp_split for the reduction
// and the polynomial (the same constants).
__attribute__((target("avx2,fma"))) inline __m256 exp_split(__m256 hi, __m256 lo) {
  const __m256 log2e = _mm256_set1_ps(fits::kLog2e);
  const __m256 ln2_hi = _mm256_set1_ps(fits::kLn2Hi);
  const __m256 ln2_lo = _mm256_set1_ps(fits::kLn2Lo);
  const __m256 round_to_integer = _mm256_set1_ps(fits::kRoundToInteger);
  hi = _mm256_min_ps(_mm256_max_ps(hi, _mm256_set1_ps(fits::kExpInputMin)),
                     _mm256_set1_ps(fits::kExpInputMax));
  const __m256 k = _mm256_sub_ps(_mm256_fmadd_ps(_mm256_add_ps(hi, lo), log2e, round_to_integer),
                                 round_to_integer);
  __m256 r = _mm256_fnmadd_ps(k, ln2_hi, hi);
  r = _mm256_add_ps(_mm256_fnmadd_ps(k, ln2_lo, r), lo);
  __m256 p = _mm256_set1_ps(fits::kExpPolynomial[0]);
  for (size_t i = 1; i < std::size(fits::kExpPolynomial); ++i)
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(fits::kExpPolynomial[i]));
  return scale_by_power_of_two(p, k);
}

__attribute__((target("avx2,fma"))) inline __m256 exp(__m256 v) {
  return exp_split(v, _mm256_setzero_ps());
}

// erfc(|x|/√2) / 2: see avx512::half_erfc_of_abs_scaled (the same fit).
__attribute__((target("avx2,fma"))) inline __m256 half_erfc_of_abs_scaled(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 abs_x = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  const __m256 d = _mm256_fmadd_ps(abs_x, _mm256_set1_ps(fits::kErfcScale), one);
  const __m256 t = _mm256_div_ps(one, d);
  __m256 p = _mm256_set1_ps(fits::kErfcPolynomial[0]);
  for (size_t i = 1; i < std::size(fits::kErfcPolynomial); ++i)
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(fits::kErfcPolynomial[i]));
  const __m256 square = _mm256_mul_ps(x, x);
  const __m256 square_lo = _mm256_fmsub_ps(x, x, square);
  const __m256 minus_half_square = _mm256_mul_ps(_mm256_set1_ps(-0.5f), square);
  return _mm256_mul_ps(
      t, exp_split(minus_half_square, _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), square_lo, p)));
}

// GELU(x) = x Φ(x): x h for x < 0, x - x h for x >= 0 (h = erfc(|x|/√2)/2).
__attribute__((target("avx2,fma"))) inline __m256 gelu(__m256 x) {
  const __m256 xh = _mm256_mul_ps(x, half_erfc_of_abs_scaled(x));
  const __m256 positive = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
  return _mm256_blendv_ps(xh, _mm256_sub_ps(x, xh), positive);
}

__attribute__((target("avx2,fma"))) inline void gelu_n(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu(_mm256_loadu_ps(x + i)));
  if (i == n) return;
  float tail[8] = {};
  std::memcpy(tail, x + i, sizeof(float) * (n - i));
  _mm256_storeu_ps(tail, gelu(_mm256_loadu_ps(tail)));
  std::memcpy(x + i, tail, sizeof(float) * (n - i));
}

}  // namespace quasr::kernels::avx2

namespace quasr::kernels {
// avx2::exp on 8 floats (for tests; defined in elementwise.cc).
void avx2_exp_8(const float* in, float* out);
}  // namespace quasr::kernels
