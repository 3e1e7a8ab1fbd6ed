#include "kernels/int8/epilogue.h"

#include <immintrin.h>

// GCC 12's AVX-512 headers build some intrinsics (abs, reductions, masked
// conversions) from a deliberately undefined vector and warn about it.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace quasr::kernels::int8_detail {
namespace {

void gelu_scalar(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * float(M_SQRT1_2)));
}

// exp(v) for v <= 0 (the only use: exp(-z²)): v = k ln2 + r, |r| <= ln2/2,
// e^r by its degree-6 Taylor polynomial (relative error < 2e-8 there) and
// 2^k applied with scalef, which also flushes very negative v to 0.
__attribute__((target("avx512f,fma"))) inline __m512 exp_neg_avx512(__m512 v) {
  const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
  const __m512 ln2_hi = _mm512_set1_ps(0.693359375f);
  const __m512 ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
  v = _mm512_max_ps(v, _mm512_set1_ps(-87.0f));
  __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(v, log2e), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps(k, ln2_hi, v);
  r = _mm512_fnmadd_ps(k, ln2_lo, r);
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, k);
}

// GELU(x) = x/2 (1 + erf(x/√2)) with erf from Abramowitz & Stegun 7.1.26
// (absolute error <= 1.5e-7): erf(z) = 1 - t (a1 + t (a2 + ... a5)) e^{-z²},
// t = 1 / (1 + p z), for z >= 0, odd symmetry for z < 0.
__attribute__((target("avx512f,fma"))) inline __m512 gelu_avx512(__m512 x) {
  const __m512 z = _mm512_abs_ps(_mm512_mul_ps(x, _mm512_set1_ps(float(M_SQRT1_2))));
  const __m512 one = _mm512_set1_ps(1.0f);
  // 1 / d by the 14-bit reciprocal and one Newton step (~2^-28), cheaper than a divide.
  const __m512 d = _mm512_fmadd_ps(_mm512_set1_ps(0.3275911f), z, one);
  __m512 t = _mm512_rcp14_ps(d);
  t = _mm512_mul_ps(t, _mm512_fnmadd_ps(d, t, _mm512_set1_ps(2.0f)));
  __m512 poly = _mm512_set1_ps(1.061405429f);
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(-1.453152027f));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(1.421413741f));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(-0.284496736f));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(0.254829592f));
  poly = _mm512_mul_ps(poly, t);
  __m512 e = exp_neg_avx512(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), z), z));
  __m512 erf_abs = _mm512_fnmadd_ps(poly, e, one);
  // Restore the sign of x on erf.
  __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN));
  __m512 erf = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(erf_abs), sign));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(one, erf));
}

__attribute__((target("avx512f,fma"))) void gelu_avx512_n(float* x, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(x + i, m, gelu_avx512(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

void dequantize_scalar(void* row, int64_t n, const EpilogueRow& p) {
  char* bytes = static_cast<char*>(row);
  for (int64_t j = 0; j < n; ++j) {
    int32_t acc;
    std::memcpy(&acc, bytes + 4 * j, 4);
    acc -= p.x_zero_point * p.w_sums[j];
    float v = static_cast<float>(acc) * (p.x_scale * p.w_scales[j]);
    if (p.bias) v += p.bias[j];
    std::memcpy(bytes + 4 * j, &v, 4);
  }
  if (p.activation == Activation::kGelu) gelu_scalar(static_cast<float*>(row), n);
}

__attribute__((target("avx512f,fma"))) void dequantize_avx512(void* row, int64_t n,
                                                              const EpilogueRow& p) {
  float* y = static_cast<float*>(row);
  const __m512i zp = _mm512_set1_epi32(p.x_zero_point);
  const __m512 xs = _mm512_set1_ps(p.x_scale);
  const bool gelu = p.activation == Activation::kGelu;
  for (int64_t j = 0; j < n; j += 16) {
    __mmask16 m = n - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - j)) - 1u);
    __m512i acc = _mm512_maskz_loadu_epi32(m, y + j);
    acc = _mm512_sub_epi32(acc, _mm512_mullo_epi32(zp, _mm512_maskz_loadu_epi32(m, p.w_sums + j)));
    __m512 scale = _mm512_mul_ps(xs, _mm512_maskz_loadu_ps(m, p.w_scales + j));
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale);
    if (p.bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, p.bias + j));
    if (gelu) v = gelu_avx512(v);
    _mm512_mask_storeu_ps(y + j, m, v);
  }
}

__attribute__((target("avx2,fma"))) void dequantize_avx2(void* row, int64_t n,
                                                         const EpilogueRow& p) {
  float* y = static_cast<float*>(row);
  const __m256i zp = _mm256_set1_epi32(p.x_zero_point);
  const __m256 xs = _mm256_set1_ps(p.x_scale);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256i acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + j));
    __m256i sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.w_sums + j));
    acc = _mm256_sub_epi32(acc, _mm256_mullo_epi32(zp, sums));
    __m256 v =
        _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_mul_ps(xs, _mm256_loadu_ps(p.w_scales + j)));
    if (p.bias) v = _mm256_add_ps(v, _mm256_loadu_ps(p.bias + j));
    _mm256_storeu_ps(y + j, v);
  }
  EpilogueRow tail = p;
  tail.w_scales += j;
  tail.w_sums += j;
  if (tail.bias) tail.bias += j;
  tail.activation = Activation::kNone;
  dequantize_scalar(y + j, n - j, tail);
  if (p.activation == Activation::kGelu) gelu_scalar(y, n);
}

}  // namespace

void dequantize_row_in_place(void* row, int64_t n, const EpilogueRow& params, IsaLevel isa) {
  if (isa >= IsaLevel::kAvx512) return dequantize_avx512(row, n, params);
  if (isa == IsaLevel::kAvx2) return dequantize_avx2(row, n, params);
  dequantize_scalar(row, n, params);
}

void gelu_in_place(float* x, int64_t n, IsaLevel isa) {
  if (isa >= IsaLevel::kAvx512) return gelu_avx512_n(x, n);
  gelu_scalar(x, n);
}

}  // namespace quasr::kernels::int8_detail
