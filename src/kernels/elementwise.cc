#include "kernels/elementwise.h"

#include <algorithm>
#include <cmath>
#include <vector>

#define QUASR_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace quasr::kernels {
namespace {

QUASR_VECTOR_CLONES void mean_and_variance(const float* x, int64_t n, double* mean,
                                           double* variance) {
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

QUASR_VECTOR_CLONES void gelu_block(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * float(M_SQRT1_2)));
}

}  // namespace

void layer_norm_rows(const float* x, int64_t rows, int64_t cols, const float* gamma,
                     const float* beta, float eps, float* y) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    normalize_row(x + r * cols, cols, gamma, beta, eps, y + r * cols);
}

void group_norm_channels(float* x, int64_t frames, int64_t channels, const float* gamma,
                         const float* beta, float eps) {
  if (frames == 0) return;
  std::vector<double> sum(channels, 0.0), squares(channels, 0.0);
  for (int64_t t = 0; t < frames; ++t) {
    const float* row = x + t * channels;
    for (int64_t c = 0; c < channels; ++c) sum[c] += row[c];
  }
  for (int64_t c = 0; c < channels; ++c) sum[c] /= static_cast<double>(frames);
  for (int64_t t = 0; t < frames; ++t) {
    const float* row = x + t * channels;
    for (int64_t c = 0; c < channels; ++c) {
      double d = row[c] - sum[c];
      squares[c] += d * d;
    }
  }
  std::vector<float> scale(channels), shift(channels);
  for (int64_t c = 0; c < channels; ++c) {
    double inv = 1.0 / std::sqrt(squares[c] / static_cast<double>(frames) + eps);
    scale[c] = static_cast<float>(inv * gamma[c]);
    shift[c] = static_cast<float>(beta[c] - sum[c] * inv * gamma[c]);
  }
  channel_affine(x, frames, channels, scale.data(), shift.data());
}

void normalize_all(float* x, int64_t n, float eps) {
  if (n == 0) return;
  normalize_row(x, n, nullptr, nullptr, eps, x);
}

void gelu_erf(float* x, int64_t n) {
  constexpr int64_t kBlock = 4096;
#pragma omp parallel for schedule(static)
  for (int64_t start = 0; start < n; start += kBlock)
    gelu_block(x + start, std::min(kBlock, n - start));
}

void leaky_relu(float* x, int64_t n, float negative_slope) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= 0.0f ? x[i] : x[i] * negative_slope;
}

void channel_affine(float* x, int64_t rows, int64_t cols, const float* scale, const float* shift) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) row[c] = row[c] * scale[c] + shift[c];
  }
}

void add_inplace(float* y, const float* x, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void log_softmax_rows(float* x, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    float max_value = *std::max_element(row, row + cols);
    double sum = 0.0;
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(static_cast<double>(row[c] - max_value));
    float log_sum = static_cast<float>(std::log(sum)) + max_value;
    for (int64_t c = 0; c < cols; ++c) row[c] -= log_sum;
  }
}

void softmax_rows_prefix(float* x, int64_t rows, int64_t valid, int64_t ld) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * ld;
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
}

}  // namespace quasr::kernels
