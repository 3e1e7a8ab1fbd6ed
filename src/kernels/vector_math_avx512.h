// AVX-512 exp and GELU shared by the float and int8 kernels. Header-only so
// they inline into callers compiled with the same target attribute.
//
// Accuracy (tests/kernels/vector_math_test.cc checks it against double):
//  - exp: relative error < 3e-7 for x in [-87, 88]; 0 below, +inf above.
//  - GELU: relative error < 1e-6 for every float x where GELU(x) is normal,
//    both signs. The negative side goes through erfc directly, so there is no
//    1 + erf(z) cancellation (which costs the std::erf formula most of its
//    digits below x = -3).
#pragma once

#include <immintrin.h>

// GCC 12's AVX-512 headers build some intrinsics (max, min, roundscale,
// scalef, reductions) from a deliberately undefined vector and warn about it
// in every file that inlines them.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cmath>
#include <cstdint>

#include "kernels/vector_math_fits.h"

namespace quasr::kernels::avx512 {

// e^(hi + lo) where lo is small beside hi: v = k ln2 + r with |r| <= ln2/2,
// r reduced from hi alone (exact: k ln2_hi has few bits) before lo joins it,
// so a large hi loses nothing to rounding hi + lo. k rounded by adding and
// subtracting 1.5 * 2^23 (one FMA and a subtract; VRNDSCALEPS is two uops),
// e^r by a degree-5 Chebyshev fit (relative error < 1.8e-7 on |r| <= ln2/2
// with these float coefficients; one FMA fewer than the Taylor polynomial of
// the same accuracy), 2^k by scalef, which saturates cleanly to 0 and +inf.
__attribute__((target("avx512f,fma"))) inline __m512 exp_split(__m512 hi, __m512 lo) {
  const __m512 log2e = _mm512_set1_ps(fits::kLog2e);
  const __m512 ln2_hi = _mm512_set1_ps(fits::kLn2Hi);
  const __m512 ln2_lo = _mm512_set1_ps(fits::kLn2Lo);
  const __m512 round_to_integer = _mm512_set1_ps(fits::kRoundToInteger);
  hi = _mm512_min_ps(_mm512_max_ps(hi, _mm512_set1_ps(fits::kExpInputMin)),
                     _mm512_set1_ps(fits::kExpInputMax));
  const __m512 k = _mm512_sub_ps(_mm512_fmadd_ps(_mm512_add_ps(hi, lo), log2e, round_to_integer),
                                 round_to_integer);
  __m512 r = _mm512_fnmadd_ps(k, ln2_hi, hi);
  r = _mm512_add_ps(_mm512_fnmadd_ps(k, ln2_lo, r), lo);
  __m512 p = _mm512_set1_ps(fits::kExpPolynomial[0]);
  for (size_t i = 1; i < std::size(fits::kExpPolynomial); ++i)
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(fits::kExpPolynomial[i]));
  return _mm512_scalef_ps(p, k);
}

__attribute__((target("avx512f,fma"))) inline __m512 exp(__m512 v) {
  return exp_split(v, _mm512_setzero_ps());
}

// e^v for v <= 0 to bf16 precision (relative error < 5e-5, bf16 keeps 2^-9):
// the degree-4 polynomial and a one-constant reduction, for probabilities
// that are rounded to bf16 right after. Below -87 it returns 0.
__attribute__((target("avx512f,fma"))) inline __m512 exp_nonpositive_coarse(__m512 v) {
  v = _mm512_max_ps(v, _mm512_set1_ps(-87.0f));
  const __m512 round_to_integer = _mm512_set1_ps(12582912.0f);  // as in exp_split
  const __m512 k = _mm512_sub_ps(
      _mm512_fmadd_ps(v, _mm512_set1_ps(1.44269504088896341f), round_to_integer), round_to_integer);
  const __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.69314718055994531f), v);
  __m512 p = _mm512_set1_ps(1.0f / 24.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, k);
}

// erfc(a) / 2 for a = |x|/√2 as t exp(-a² + P(t) - ln 2), t = 1 / (1 + a/2):
// the Chebyshev fit of Numerical Recipes' erfcc (fractional error < 1.2e-7
// for all a >= 0), its constant term taking the halving. The exponent is
// sensitive (d erfc / erfc = -2a² da/a), so a² is taken from x exactly: x²/2
// split into hi + lo by FMA, handed to exp_split.
__attribute__((target("avx512f,fma"))) inline __m512 half_erfc_of_abs_scaled(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 half = _mm512_set1_ps(0.5f);
  // d = 1 + a/2 in one FMA from |x|.
  const __m512 d = _mm512_fmadd_ps(_mm512_abs_ps(x), _mm512_set1_ps(fits::kErfcScale), one);
  // 1/d by the 14-bit reciprocal and one Newton step (relative error ~2^-28):
  // a divide costs several times more and GELU is on every FFN output.
  __m512 t = _mm512_rcp14_ps(d);
  t = _mm512_mul_ps(t, _mm512_fnmadd_ps(d, t, _mm512_set1_ps(2.0f)));
  __m512 p = _mm512_set1_ps(fits::kErfcPolynomial[0]);
  for (size_t i = 1; i < std::size(fits::kErfcPolynomial); ++i)
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(fits::kErfcPolynomial[i]));
  const __m512 square = _mm512_mul_ps(x, x);
  const __m512 square_lo = _mm512_fmsub_ps(x, x, square);
  const __m512 minus_half_square = _mm512_mul_ps(_mm512_set1_ps(-0.5f), square);
  return _mm512_mul_ps(t, exp_split(minus_half_square, _mm512_fnmadd_ps(half, square_lo, p)));
}

// GELU(x) = x Φ(x), Φ(x) = erfc(-x/√2) / 2: for x < 0 that is x h with
// h = erfc(|x|/√2)/2, for x >= 0 it is x - x h (h <= 1/2: no cancellation).
__attribute__((target("avx512f,fma"))) inline __m512 gelu(__m512 x) {
  const __m512 xh = _mm512_mul_ps(x, half_erfc_of_abs_scaled(x));
  const __mmask16 positive = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
  return _mm512_mask_sub_ps(xh, positive, x, xh);
}

// Mask of the first min(n, 16) lanes.
inline __mmask16 tail_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u);
}

__attribute__((target("avx512f,fma"))) inline void gelu_n(float* x, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(x + i, m, gelu(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

// float -> bfloat16 bits, round to nearest even (AVX-512F only).
__attribute__((target("avx512f"))) inline __m256i to_bf16(__m512 x) {
  __m512i bits = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  bits = _mm512_add_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(0x7FFF)), lsb);
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(bits, 16));
}

// The same rounding in one instruction (VCVTNEPS2BF16) on CPUs with
// AVX512_BF16; it reads denormal inputs as zero, which bf16 attention's
// operands and probabilities (>= e^-87) never are.
__attribute__((target("avx512f,avx512bf16"))) inline __m256i to_bf16_native(__m512 x) {
  return reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(x));
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) inline void to_bf16_n(
    const float* x, int64_t n, uint16_t* y) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm256_mask_storeu_epi16(y + i, m, to_bf16_native(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

// Rows r[0..15] of 16 dwords -> their transpose, in place.
__attribute__((target("avx512f"))) inline void transpose_16x16(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  // Now r[4g + j], 128-bit lane L, holds column 4L + j of rows 4g..4g+3.
  for (int g = 0; g < 4; ++g) {
    r[4 * g] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
    r[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
    r[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
    r[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
  }
  for (int j = 0; j < 4; ++j) {
    const __m512i even_lo = _mm512_shuffle_i32x4(r[j], r[4 + j], 0x88);
    const __m512i even_hi = _mm512_shuffle_i32x4(r[8 + j], r[12 + j], 0x88);
    const __m512i odd_lo = _mm512_shuffle_i32x4(r[j], r[4 + j], 0xDD);
    const __m512i odd_hi = _mm512_shuffle_i32x4(r[8 + j], r[12 + j], 0xDD);
    t[j] = _mm512_shuffle_i32x4(even_lo, even_hi, 0x88);      // lane 0: column j
    t[8 + j] = _mm512_shuffle_i32x4(even_lo, even_hi, 0xDD);  // lane 2: column 8 + j
    t[4 + j] = _mm512_shuffle_i32x4(odd_lo, odd_hi, 0x88);    // lane 1: column 4 + j
    t[12 + j] = _mm512_shuffle_i32x4(odd_lo, odd_hi, 0xDD);   // lane 3: column 12 + j
  }
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}

}  // namespace quasr::kernels::avx512

namespace quasr::kernels {
// exp of 16 floats through avx512::exp (for tests; needs AVX-512F).
void avx512_exp_16(const float* in, float* out);
}  // namespace quasr::kernels
