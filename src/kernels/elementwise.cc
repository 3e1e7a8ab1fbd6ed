#include "kernels/elementwise.h"

// GCC 12's AVX-512 reductions build on a deliberately undefined vector.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cmath>
#include <vector>

#include <omp.h>

#include "core/cpu_features.h"
#include "kernels/vector_math_avx2.h"
#include "kernels/vector_math_avx512.h"

#define QUASR_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace quasr::kernels {
namespace {

void mean_and_variance_scalar(const float* x, int64_t n, double* mean, double* variance) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  double m = sum / static_cast<double>(n);
  double squares = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    double d = x[i] - m;
    squares += d * d;
  }
  *mean = m;
  *variance = squares / static_cast<double>(n);
}

// Mean and variance in double, 16 lanes wide, in one pass: the sum and the
// sum of squares together (each square of a float is exact in double, 48
// bits), variance = E[x^2] - mean^2. The subtraction cancels log2((mean /
// std)^2) of double's 53 bits, which leaves more than float's 24 for any
// mean under 2^14 standard deviations. The compiler will not vectorise a
// double reduction by itself (it may not reassociate), and the scalar loop's
// add latency made LayerNorm 10 % of an int8 large forward; four pairs of
// accumulators, 32 values a step. Against the two-pass sums the results
// move by ~1e-16 relative, which float mean and variance almost never see.
__attribute__((target("avx512f,fma"))) inline __m512d low_half(__m512 v) {
  return _mm512_cvtps_pd(_mm512_castps512_ps256(v));
}
__attribute__((target("avx512f,fma"))) inline __m512d high_half(__m512 v) {
  return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

__attribute__((target("avx512f,fma"))) inline void add_value_and_square(__m512d v, __m512d& sum,
                                                                        __m512d& squares) {
  sum = _mm512_add_pd(sum, v);
  squares = _mm512_fmadd_pd(v, v, squares);
}

__attribute__((target("avx512f,fma"))) void mean_and_variance_avx512(const float* x, int64_t n,
                                                                     double* mean,
                                                                     double* variance) {
  __m512d sums[4], squares[4];
  for (int j = 0; j < 4; ++j) sums[j] = squares[j] = _mm512_setzero_pd();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 v = _mm512_loadu_ps(x + i), w = _mm512_loadu_ps(x + i + 16);
    add_value_and_square(low_half(v), sums[0], squares[0]);
    add_value_and_square(high_half(v), sums[1], squares[1]);
    add_value_and_square(low_half(w), sums[2], squares[2]);
    add_value_and_square(high_half(w), sums[3], squares[3]);
  }
  for (; i < n; i += 16) {  // masked-off lanes load as 0 and add nothing
    const __m512 v = _mm512_maskz_loadu_ps(avx512::tail_mask(n - i), x + i);
    add_value_and_square(low_half(v), sums[0], squares[0]);
    add_value_and_square(high_half(v), sums[1], squares[1]);
  }
  const double sum = _mm512_reduce_add_pd(
      _mm512_add_pd(_mm512_add_pd(sums[0], sums[1]), _mm512_add_pd(sums[2], sums[3])));
  const double square_sum = _mm512_reduce_add_pd(
      _mm512_add_pd(_mm512_add_pd(squares[0], squares[1]), _mm512_add_pd(squares[2], squares[3])));
  const double m = sum / static_cast<double>(n);
  *mean = m;
  *variance = std::max(0.0, square_sum / static_cast<double>(n) - m * m);
}

// The same one-pass sums four doubles wide, 16 values a step.
__attribute__((target("avx2,fma"))) void mean_and_variance_avx2(const float* x, int64_t n,
                                                                double* mean, double* variance) {
  __m256d sums[4], squares[4];
  for (int j = 0; j < 4; ++j) sums[j] = squares[j] = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 4; ++j) {
      const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4 * j));
      sums[j] = _mm256_add_pd(sums[j], v);
      squares[j] = _mm256_fmadd_pd(v, v, squares[j]);
    }
  }
  double lanes[4], square_lanes[4];
  _mm256_storeu_pd(lanes,
                   _mm256_add_pd(_mm256_add_pd(sums[0], sums[1]), _mm256_add_pd(sums[2], sums[3])));
  _mm256_storeu_pd(square_lanes, _mm256_add_pd(_mm256_add_pd(squares[0], squares[1]),
                                               _mm256_add_pd(squares[2], squares[3])));
  double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  double square_sum = (square_lanes[0] + square_lanes[1]) + (square_lanes[2] + square_lanes[3]);
  for (; i < n; ++i) {
    const double v = x[i];
    sum += v;
    square_sum += v * v;
  }
  const double m = sum / static_cast<double>(n);
  *mean = m;
  *variance = std::max(0.0, square_sum / static_cast<double>(n) - m * m);
}

bool use_avx512();
bool use_avx2();

void mean_and_variance(const float* x, int64_t n, double* mean, double* variance) {
  if (use_avx512()) return mean_and_variance_avx512(x, n, mean, variance);
  if (use_avx2()) return mean_and_variance_avx2(x, n, mean, variance);
  mean_and_variance_scalar(x, n, mean, variance);
}

QUASR_VECTOR_CLONES void normalize_row(const float* x, int64_t n, const float* gamma,
                                       const float* beta, float eps, float* y) {
  double mean, variance;
  mean_and_variance(x, n, &mean, &variance);
  float m = static_cast<float>(mean);
  float inv = static_cast<float>(1.0 / std::sqrt(variance + eps));
  if (gamma && beta) {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) * inv * gamma[i] + beta[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) * inv;
  }
}

bool use_avx512() {
  static const bool avx512 = isa_level() >= IsaLevel::kAvx512;
  return avx512;
}

bool use_avx2() {
  static const bool avx2 = isa_level() >= IsaLevel::kAvx2;
  return avx2;
}

void softmax_row_scalar(float* row, int64_t valid, int64_t ld) {
  float max_value = *std::max_element(row, row + valid);
  float sum = 0.0f;
  for (int64_t c = 0; c < valid; ++c) {
    row[c] = std::exp(row[c] - max_value);
    sum += row[c];
  }
  float inv = 1.0f / sum;
  for (int64_t c = 0; c < valid; ++c) row[c] *= inv;
  std::fill(row + valid, row + ld, 0.0f);
}

__attribute__((target("avx512f,fma"))) float row_max_avx512(const float* row, int64_t n) {
  // Four running maxima: one would wait on max's latency every 16 values.
  __m512 best[4];
  for (__m512& b : best) b = _mm512_set1_ps(-INFINITY);
  int64_t c = 0;
  for (; c + 64 <= n; c += 64)
    for (int i = 0; i < 4; ++i) best[i] = _mm512_max_ps(best[i], _mm512_loadu_ps(row + c + 16 * i));
  for (; c < n; c += 16)
    best[0] =
        _mm512_max_ps(best[0], _mm512_mask_loadu_ps(best[0], avx512::tail_mask(n - c), row + c));
  return _mm512_reduce_max_ps(
      _mm512_max_ps(_mm512_max_ps(best[0], best[1]), _mm512_max_ps(best[2], best[3])));
}

// Writes exp(row - shift) in place when store is set; returns the sum.
__attribute__((target("avx512f,fma"))) float exp_sum_avx512(float* row, int64_t n, float shift,
                                                            bool store) {
  const __m512 offset = _mm512_set1_ps(shift);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t c = 0; c < n; c += 16) {
    const __mmask16 m = avx512::tail_mask(n - c);
    __m512 e = avx512::exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + c), offset));
    sum = _mm512_mask_add_ps(sum, m, sum, e);
    if (store) _mm512_mask_storeu_ps(row + c, m, e);
  }
  return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx512f,fma"))) void softmax_row_avx512(float* row, int64_t valid,
                                                               int64_t ld) {
  const float sum = exp_sum_avx512(row, valid, row_max_avx512(row, valid), true);
  const __m512 inv = _mm512_set1_ps(1.0f / sum);
  for (int64_t c = 0; c < valid; c += 16) {
    const __mmask16 m = avx512::tail_mask(valid - c);
    _mm512_mask_storeu_ps(row + c, m, _mm512_mul_ps(inv, _mm512_maskz_loadu_ps(m, row + c)));
  }
  std::fill(row + valid, row + ld, 0.0f);
}

__attribute__((target("avx2,fma"))) float row_max_avx2(const float* row, int64_t n) {
  __m256 best[2] = {_mm256_set1_ps(-INFINITY), _mm256_set1_ps(-INFINITY)};
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    best[0] = _mm256_max_ps(best[0], _mm256_loadu_ps(row + c));
    best[1] = _mm256_max_ps(best[1], _mm256_loadu_ps(row + c + 8));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, _mm256_max_ps(best[0], best[1]));
  float best_value = *std::max_element(lanes, lanes + 8);
  for (; c < n; ++c) best_value = std::max(best_value, row[c]);
  return best_value;
}

// The AVX-512 softmax's steps eight lanes wide; the tail through a padded copy.
__attribute__((target("avx2,fma"))) void softmax_row_avx2(float* row, int64_t valid, int64_t ld) {
  const float max_value = row_max_avx2(row, valid);
  const __m256 offset = _mm256_set1_ps(max_value);
  __m256 sums = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 8 <= valid; c += 8) {
    const __m256 e = avx2::exp(_mm256_sub_ps(_mm256_loadu_ps(row + c), offset));
    sums = _mm256_add_ps(sums, e);
    _mm256_storeu_ps(row + c, e);
  }
  float tail[8];
  std::fill(tail, tail + 8, -INFINITY);  // e^-inf: 0, adds nothing
  std::copy(row + c, row + valid, tail);
  const __m256 e = avx2::exp(_mm256_sub_ps(_mm256_loadu_ps(tail), offset));
  _mm256_storeu_ps(tail, e);
  std::copy(tail, tail + (valid - c), row + c);
  sums = _mm256_add_ps(sums, e);
  float lanes[8];
  _mm256_storeu_ps(lanes, sums);
  float sum = 0.0f;
  for (float lane : lanes) sum += lane;
  const __m256 inv = _mm256_set1_ps(1.0f / sum);
  for (c = 0; c + 8 <= valid; c += 8)
    _mm256_storeu_ps(row + c, _mm256_mul_ps(inv, _mm256_loadu_ps(row + c)));
  for (; c < valid; ++c) row[c] *= 1.0f / sum;
  std::fill(row + valid, row + ld, 0.0f);
}

}  // namespace

__attribute__((target("avx2,fma"))) void avx2_exp_8(const float* in, float* out) {
  _mm256_storeu_ps(out, avx2::exp(_mm256_loadu_ps(in)));
}

__attribute__((target("avx512f,fma"))) void avx512_exp_16(const float* in, float* out) {
  _mm512_storeu_ps(out, avx512::exp(_mm512_loadu_ps(in)));
}

void layer_norm_rows(const float* x, int64_t rows, int64_t cols, const float* gamma,
                     const float* beta, float eps, float* y) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    normalize_row(x + r * cols, cols, gamma, beta, eps, y + r * cols);
}

void add_layer_norm_rows(float* x, const float* residual, int64_t rows, int64_t cols,
                         const float* gamma, const float* beta, float eps, float* y) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    add_layer_norm_row(x + r * cols, residual + r * cols, cols, gamma, beta, eps, y + r * cols);
}

void layer_norm_row(const float* x, int64_t cols, const float* gamma, const float* beta, float eps,
                    float* y) {
  normalize_row(x, cols, gamma, beta, eps, y);
}

void add_layer_norm_row(float* x, const float* residual, int64_t cols, const float* gamma,
                        const float* beta, float eps, float* y) {
#pragma omp simd
  for (int64_t c = 0; c < cols; ++c) x[c] += residual[c];
  normalize_row(x, cols, gamma, beta, eps, y);  // x still in L1
}

void layer_norm_gelu_rows(const float* x, int64_t rows, int64_t cols, const float* gamma,
                          const float* beta, float eps, float* y) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    layer_norm_gelu_row(x + r * cols, cols, gamma, beta, eps, y + r * cols);
}

void layer_norm_gelu_row(const float* x, int64_t cols, const float* gamma, const float* beta,
                         float eps, float* y) {
  normalize_row(x, cols, gamma, beta, eps, y);
  gelu_erf_row(y, cols);  // while the row is still in L1
}

namespace {

// Adds each channel's value and square (in double) of one frame.
void accumulate_channels_scalar(const float* row, int64_t channels, double* sum, double* squares) {
  for (int64_t c = 0; c < channels; ++c) {
    sum[c] += row[c];
    squares[c] += double(row[c]) * row[c];
  }
}

__attribute__((target("avx512f,fma"))) void accumulate_channels_avx512(const float* row,
                                                                       int64_t channels,
                                                                       double* sum,
                                                                       double* squares) {
  int64_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(row + c));
    _mm512_storeu_pd(sum + c, _mm512_add_pd(_mm512_loadu_pd(sum + c), v));
    _mm512_storeu_pd(squares + c, _mm512_fmadd_pd(v, v, _mm512_loadu_pd(squares + c)));
  }
  accumulate_channels_scalar(row + c, channels - c, sum + c, squares + c);
}

__attribute__((target("avx512f,fma"))) void affine_gelu_row_avx512(float* row, int64_t channels,
                                                                   const float* scale,
                                                                   const float* shift) {
  for (int64_t c = 0; c < channels; c += 16) {
    const __mmask16 m = avx512::tail_mask(channels - c);
    const __m512 v =
        _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, row + c), _mm512_maskz_loadu_ps(m, scale + c),
                        _mm512_maskz_loadu_ps(m, shift + c));
    _mm512_mask_storeu_ps(row + c, m, avx512::gelu(v));
  }
}

}  // namespace

void group_norm_gelu_channels(float* x, int64_t frames, int64_t channels, const float* gamma,
                              const float* beta, float eps, RowSink row_done) {
  if (frames == 0) return;
  // One read for the statistics (sum and sum of squares in double: the
  // extractor's outputs are O(1), so the one-pass variance loses nothing at
  // float precision), one read-write for the affine map and GELU together:
  // this array is the largest of the forward (512 channels at 3200 frames/s).
  // Buffers grow only (the caller's thread): no allocation in steady state.
  const bool avx512 = use_avx512();
  const int64_t threads = std::max(1, omp_get_max_threads());
  thread_local std::vector<double> partial;
  thread_local std::vector<float> scale, shift;
  partial.assign(static_cast<size_t>(2 * threads * channels), 0.0);
  scale.resize(static_cast<size_t>(channels));
  shift.resize(static_cast<size_t>(channels));
  double* partial_data = partial.data();
#pragma omp parallel num_threads(threads)
  {
    double* sum = partial_data + 2 * omp_get_thread_num() * channels;
    double* squares = sum + channels;
#pragma omp for schedule(static)
    for (int64_t t = 0; t < frames; ++t) {
      if (avx512)
        accumulate_channels_avx512(x + t * channels, channels, sum, squares);
      else
        accumulate_channels_scalar(x + t * channels, channels, sum, squares);
    }
  }
  for (int64_t c = 0; c < channels; ++c) {
    double total = 0.0, total_squares = 0.0;
    for (int64_t k = 0; k < threads; ++k) {
      total += partial[2 * k * channels + c];
      total_squares += partial[(2 * k + 1) * channels + c];
    }
    const double mean = total / double(frames);
    const double variance = std::max(0.0, total_squares / double(frames) - mean * mean);
    const double inv = 1.0 / std::sqrt(variance + eps);
    scale[c] = static_cast<float>(inv * gamma[c]);
    shift[c] = static_cast<float>(beta[c] - mean * inv * gamma[c]);
  }
  const float* scale_data = scale.data();
  const float* shift_data = shift.data();
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < frames; ++t) {
    float* row = x + t * channels;
    if (avx512) {
      affine_gelu_row_avx512(row, channels, scale_data, shift_data);
    } else {
      for (int64_t c = 0; c < channels; ++c) row[c] = row[c] * scale_data[c] + shift_data[c];
      gelu_erf_row(row, channels);
    }
    if (row_done) row_done(t, row);
  }
}

void normalize_all(float* x, int64_t n, float eps) {
  if (n == 0) return;
  normalize_row(x, n, nullptr, nullptr, eps, x);
}

void gelu_erf_row(float* x, int64_t n, IsaLevel isa) {
  if (isa >= IsaLevel::kAvx512) return avx512::gelu_n(x, n);
  if (isa == IsaLevel::kAvx2) return avx2::gelu_n(x, n);
  for (int64_t i = 0; i < n; ++i)
    x[i] = static_cast<float>(0.5 * x[i] * std::erfc(-x[i] * M_SQRT1_2));
}

void gelu_erf(float* x, int64_t n) {
  constexpr int64_t kBlock = 4096;
#pragma omp parallel for schedule(static)
  for (int64_t start = 0; start < n; start += kBlock)
    gelu_erf_row(x + start, std::min(kBlock, n - start));
}

namespace {

// The scalar loop's select compiles to a branch that random signs mispredict
// half the time. (Fused multiply-add here: within an ulp of the scalar loop.)
__attribute__((target("avx512f,fma"))) void affine_leaky_relu_row_avx512(float* row, int64_t cols,
                                                                         const float* scale,
                                                                         const float* shift,
                                                                         float negative_slope) {
  const __m512 slope = _mm512_set1_ps(negative_slope);
  for (int64_t c = 0; c < cols; c += 16) {
    const __mmask16 m = avx512::tail_mask(cols - c);
    const __m512 v =
        _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, row + c), _mm512_maskz_loadu_ps(m, scale + c),
                        _mm512_maskz_loadu_ps(m, shift + c));
    const __mmask16 negative = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    _mm512_mask_storeu_ps(row + c, m, _mm512_mask_mul_ps(v, negative, v, slope));
  }
}

}  // namespace

void channel_affine_leaky_relu(float* x, int64_t rows, int64_t cols, const float* scale,
                               const float* shift, float negative_slope) {
  const bool avx512 = use_avx512();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    if (avx512) {
      affine_leaky_relu_row_avx512(x + r * cols, cols, scale, shift, negative_slope);
      continue;
    }
    float* row = x + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) {
      const float v = row[c] * scale[c] + shift[c];
      row[c] = v >= 0.0f ? v : v * negative_slope;
    }
  }
}

void add_inplace(float* y, const float* x, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void log_softmax_rows(float* x, int64_t rows, int64_t cols) {
  const bool avx512 = use_avx512();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    float max_value = *std::max_element(row, row + cols);
    double sum = 0.0;
    if (avx512) {
      sum = exp_sum_avx512(row, cols, max_value, false);
    } else {
      for (int64_t c = 0; c < cols; ++c) sum += std::exp(static_cast<double>(row[c] - max_value));
    }
    float log_sum = static_cast<float>(std::log(sum)) + max_value;
    for (int64_t c = 0; c < cols; ++c) row[c] -= log_sum;
  }
}

void softmax_rows_prefix(float* x, int64_t rows, int64_t valid, int64_t ld) {
  const bool avx512 = use_avx512(), avx2 = use_avx2();
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
  for (int64_t r = 0; r < rows; ++r) {
    if (avx512) {
      softmax_row_avx512(x + r * ld, valid, ld);
    } else if (avx2) {
      softmax_row_avx2(x + r * ld, valid, ld);
    } else {
      softmax_row_scalar(x + r * ld, valid, ld);
    }
  }
}

__attribute__((target("avx512f,avx512bw,avx512vl,fma,avx512bf16"))) float exp_row_prefix_bf16(
    const float* x, int64_t valid, int64_t cols, float scale, uint16_t* out) {
  // exp to bf16 precision: the values are rounded to bf16 right away. Two
  // sums halve the add latency chain. scale (x - max) as one FMA: exactly
  // x - max when scale is 1.
  const __m512 scales = _mm512_set1_ps(scale);
  const __m512 offset = _mm512_set1_ps(row_max_avx512(x, valid) * scale);
  __m512 totals[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  // 32 keys a step without masks, one conversion and one store for both
  // halves (the masked loop's two tail masks per 16 keys cost a fifth of it).
  int64_t c = 0;
  for (; c + 32 <= valid; c += 32) {
    const __m512 even =
        avx512::exp_nonpositive_coarse(_mm512_fmsub_ps(_mm512_loadu_ps(x + c), scales, offset));
    const __m512 odd = avx512::exp_nonpositive_coarse(
        _mm512_fmsub_ps(_mm512_loadu_ps(x + c + 16), scales, offset));
    totals[0] = _mm512_add_ps(totals[0], even);
    totals[1] = _mm512_add_ps(totals[1], odd);
    _mm512_storeu_si512(out + c, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(odd, even)));
  }
  for (; c < valid; c += 16) {
    const __mmask16 m = avx512::tail_mask(valid - c);
    const __m512 e = avx512::exp_nonpositive_coarse(
        _mm512_fmsub_ps(_mm512_maskz_loadu_ps(m, x + c), scales, offset));
    __m512& total = totals[(c >> 4) & 1];
    total = _mm512_mask_add_ps(total, m, total, e);
    // Masked-off lanes are stored as 0.
    _mm256_mask_storeu_epi16(out + c, avx512::tail_mask(cols - c),
                             avx512::to_bf16_native(_mm512_maskz_mov_ps(m, e)));
  }
  for (c = (valid + 15) / 16 * 16; c < cols; c += 16)
    _mm256_mask_storeu_epi16(out + c, avx512::tail_mask(cols - c), _mm256_setzero_si256());
  return 1.0f / _mm512_reduce_add_ps(_mm512_add_ps(totals[0], totals[1]));
}

void exp_rows_prefix_bf16(const float* x, int64_t rows, int64_t valid, int64_t ld, uint16_t* y,
                          float* inv_sums) {
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
  for (int64_t r = 0; r < rows; ++r)
    inv_sums[r] = exp_row_prefix_bf16(x + r * ld, valid, ld, 1.0f, y + r * ld);
}

}  // namespace quasr::kernels
