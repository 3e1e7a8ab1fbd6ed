#include "kernels/int8/epilogue.h"

#include <immintrin.h>

// GCC 12's AVX-512 headers build some intrinsics (abs, reductions, masked
// conversions) from a deliberately undefined vector and warn about it.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/vector_math_avx512.h"

namespace quasr::kernels::int8_detail {
namespace {

void gelu_scalar(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    x[i] = static_cast<float>(0.5 * x[i] * std::erfc(-x[i] * M_SQRT1_2));
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

// 16 columns from j (all of them, or those under the mask m).
template <bool kBias, bool kGelu>
__attribute__((target("avx512f,fma"))) inline __m512 dequantize16(const float* y, int64_t j,
                                                                  __mmask16 m, __m512i zp,
                                                                  __m512 xs, const EpilogueRow& p) {
  __m512i acc = _mm512_maskz_loadu_epi32(m, y + j);
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
__attribute__((target("avx512f,fma"))) void dequantize_avx512(float* y, int64_t n,
                                                              const EpilogueRow& p) {
  const __m512i zp = _mm512_set1_epi32(p.x_zero_point);
  const __m512 xs = _mm512_set1_ps(p.x_scale);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    _mm512_storeu_ps(y + j, dequantize16<kBias, kGelu>(y, j, 0xFFFF, zp, xs, p));
  if (j < n) {
    const __mmask16 m = avx512::tail_mask(n - j);
    _mm512_mask_storeu_ps(y + j, m, dequantize16<kBias, kGelu>(y, j, m, zp, xs, p));
  }
}

void dequantize_avx512(void* row, int64_t n, const EpilogueRow& p) {
  float* y = static_cast<float*>(row);
  const bool gelu = p.activation == Activation::kGelu;
  if (p.bias) {
    gelu ? dequantize_avx512<true, true>(y, n, p) : dequantize_avx512<true, false>(y, n, p);
  } else {
    gelu ? dequantize_avx512<false, true>(y, n, p) : dequantize_avx512<false, false>(y, n, p);
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
  if (isa >= IsaLevel::kAvx512) return avx512::gelu_n(x, n);
  gelu_scalar(x, n);
}

}  // namespace quasr::kernels::int8_detail
