#include "kernels/single_channel_conv1d.h"

#include <algorithm>

#include "core/cpu_features.h"
#include "core/error.h"
#include "kernels/elementwise.h"
#include "kernels/vector_math_avx512.h"

namespace quasr::kernels {

namespace {

constexpr int64_t kChannelTile = 64;  // 4 vectors of 16 channels
constexpr int64_t kFrameTile = 6;     // 6 x 4 = 24 accumulators
constexpr int64_t kFramesPerTask = 96;

// Frames [first, first + frames) x channels [c0, c0 + 64): each tap's 4 weight
// vectors are loaded once and used by 6 frames.
__attribute__((target("avx512f,fma"))) void tile_avx512(const float* x, int64_t stride,
                                                        int64_t kernel, const float* w_kc,
                                                        int64_t channels, int64_t c0,
                                                        int64_t frames, float* acc) {
  __m512 sums[kFrameTile][4];
  for (int64_t f = 0; f < kFrameTile; ++f)
    for (int v = 0; v < 4; ++v) sums[f][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kernel; ++k) {
    const float* w = w_kc + k * channels + c0;
    const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16);
    const __m512 w2 = _mm512_loadu_ps(w + 32), w3 = _mm512_loadu_ps(w + 48);
    for (int64_t f = 0; f < kFrameTile; ++f) {
      if (f >= frames) break;
      const __m512 sample = _mm512_set1_ps(x[f * stride + k]);
      sums[f][0] = _mm512_fmadd_ps(sample, w0, sums[f][0]);
      sums[f][1] = _mm512_fmadd_ps(sample, w1, sums[f][1]);
      sums[f][2] = _mm512_fmadd_ps(sample, w2, sums[f][2]);
      sums[f][3] = _mm512_fmadd_ps(sample, w3, sums[f][3]);
    }
  }
  for (int64_t f = 0; f < std::min(frames, kFrameTile); ++f)
    for (int v = 0; v < 4; ++v) _mm512_storeu_ps(acc + f * channels + 16 * v, sums[f][v]);
}

__attribute__((target("avx512f,fma"))) void epilogue_avx512(float* y, int64_t channels,
                                                            const float* scale, const float* bias,
                                                            bool gelu) {
  for (int64_t c = 0; c < channels; c += 16) {
    __m512 v = _mm512_loadu_ps(y + c);
    if (scale) v = _mm512_mul_ps(v, _mm512_loadu_ps(scale + c));
    if (bias) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + c));
    if (gelu) v = avx512::gelu(v);
    _mm512_storeu_ps(y + c, v);
  }
}

}  // namespace

SingleChannelConv1d::SingleChannelConv1d(int64_t out_channels, int64_t kernel, int64_t stride,
                                         const float* weight, const float* scale, const float* bias,
                                         Activation activation)
    : out_channels_(out_channels), kernel_(kernel), stride_(stride), activation_(activation) {
  weight_kc_.resize(static_cast<size_t>(kernel * out_channels));
  for (int64_t c = 0; c < out_channels; ++c)
    for (int64_t k = 0; k < kernel; ++k) weight_kc_[k * out_channels + c] = weight[c * kernel + k];
  if (scale) scale_.assign(scale, scale + out_channels);
  if (bias) bias_.assign(bias, bias + out_channels);
  vectorised_ = isa_level() >= IsaLevel::kAvx512 && out_channels % kChannelTile == 0;
}

void SingleChannelConv1d::run_frames(const float* x, int64_t first, int64_t frames, float* y,
                                     RowSink row_done) const {
  const float* scale = scale_.empty() ? nullptr : scale_.data();
  const float* bias = bias_.empty() ? nullptr : bias_.data();
  const int64_t channels = out_channels_;
  thread_local std::vector<float> scratch;
  if (!y) scratch.resize(static_cast<size_t>(kFrameTile * channels));
  if (vectorised_) {
    for (int64_t f = 0; f < frames; f += kFrameTile) {
      const int64_t n = std::min(kFrameTile, frames - f);
      const float* window = x + (first + f) * stride_;
      float* rows = y ? y + (first + f) * channels : scratch.data();
      for (int64_t c0 = 0; c0 < channels; c0 += kChannelTile)
        tile_avx512(window, stride_, kernel_, weight_kc_.data(), channels, c0, n, rows + c0);
      for (int64_t r = 0; r < n; ++r) {
        epilogue_avx512(rows + r * channels, channels, scale, bias,
                        activation_ == Activation::kGelu);
        if (row_done) row_done(first + f + r, rows + r * channels);
      }
    }
    return;
  }
  for (int64_t t = first; t < first + frames; ++t) {
    float* row = y ? y + t * channels : scratch.data();
    std::fill(row, row + channels, 0.0f);
    for (int64_t k = 0; k < kernel_; ++k) {
      const float sample = x[t * stride_ + k];
      const float* w = weight_kc_.data() + k * channels;
      for (int64_t c = 0; c < channels; ++c) row[c] += sample * w[c];
    }
    for (int64_t c = 0; c < channels; ++c) {
      float v = row[c];
      if (scale) v *= scale[c];
      if (bias) v += bias[c];
      row[c] = v;
    }
    if (activation_ == Activation::kGelu) gelu_erf_row(row, channels);
    if (row_done) row_done(t, row);
  }
}

void SingleChannelConv1d::run(const float* x, int64_t t_in, float* y, RowSink row_done) const {
  const int64_t t_out = output_length(t_in);
  if (t_out > 0 && !y && !row_done)
    throw Error("SingleChannelConv1d::run: no output and no row_done");
  const int64_t tasks = (t_out + kFramesPerTask - 1) / kFramesPerTask;
#pragma omp parallel for schedule(static) if (tasks > 1)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t first = task * kFramesPerTask;
    run_frames(x, first, std::min(kFramesPerTask, t_out - first), y, row_done);
  }
}

}  // namespace quasr::kernels
