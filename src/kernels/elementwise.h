// Row-wise and element-wise float kernels on time-major activations.
//
// Layout: a [rows, cols] array is row-major, one frame per row, channels
// contiguous. All functions may run in place (y == x) and parallelise over
// rows with OpenMP. Statistics accumulate in double: at 1e-4 log-prob parity
// the order of float summation would otherwise show.
#pragma once

#include <cstdint>

#include "core/cpu_features.h"
#include "kernels/row_sink.h"

namespace quasr::kernels {

// LayerNorm over the last axis: y = (x - mean) / sqrt(var + eps) * gamma + beta.
// gamma/beta may be null (no affine).
void layer_norm_rows(const float* x, int64_t rows, int64_t cols, const float* gamma,
                     const float* beta, float eps, float* y);

// x += residual, then y = layer_norm_rows(x), one pass (x is updated).
void add_layer_norm_rows(float* x, const float* residual, int64_t rows, int64_t cols,
                         const float* gamma, const float* beta, float eps, float* y);

// layer_norm_rows followed by exact GELU, in one pass over the rows.
void layer_norm_gelu_rows(const float* x, int64_t rows, int64_t cols, const float* gamma,
                          const float* beta, float eps, float* y);

// The three above for one row, without a parallel region: for callers that
// already run in one (an int8 kernel's per-row epilogue).
void layer_norm_row(const float* x, int64_t cols, const float* gamma, const float* beta, float eps,
                    float* y);
void add_layer_norm_row(float* x, const float* residual, int64_t cols, const float* gamma,
                        const float* beta, float eps, float* y);
void layer_norm_gelu_row(const float* x, int64_t cols, const float* gamma, const float* beta,
                         float eps, float* y);

// GroupNorm with one group per channel on a time-major [frames, channels]
// array (every channel normalised over time: wav2vec2's "group" extractor),
// then exact GELU, in place; row_done sees each finished frame.
void group_norm_gelu_channels(float* x, int64_t frames, int64_t channels, const float* gamma,
                              const float* beta, float eps, RowSink row_done = {});

// Normalises all n values jointly: (x - mean) / sqrt(var + eps), population
// variance. Used for SpeechBrain's F.layer_norm(x, x.shape[1:]) and Hugging
// Face's zero-mean unit-variance waveform normalisation.
void normalize_all(float* x, int64_t n, float eps);

// Exact GELU, 0.5 x (1 + erf(x / sqrt 2)); vectorised within 1e-6 relative
// (kernels/vector_math_avx512.h, vector_math_avx2.h).
void gelu_erf(float* x, int64_t n);
// The same on one thread, for callers already in a parallel region; isa
// picks the path (the tests run each level).
void gelu_erf_row(float* x, int64_t n, IsaLevel isa = isa_level());

// y[r, c] = leaky_relu(x[r, c] * scale[c] + shift[c]): an eval-mode
// BatchNorm1d folded to an affine map, then LeakyReLU, in one pass
// (SpeechBrain's enc blocks).
void channel_affine_leaky_relu(float* x, int64_t rows, int64_t cols, const float* scale,
                               const float* shift, float negative_slope);

// y += x.
void add_inplace(float* y, const float* x, int64_t n);

// Numerically stable log-softmax of each row.
void log_softmax_rows(float* x, int64_t rows, int64_t cols);

// Softmax over the first `valid` columns of each row of width ld; the
// remaining columns are set to 0 (masked keys).
void softmax_rows_prefix(float* x, int64_t rows, int64_t valid, int64_t ld);

// The unnormalised softmax for bf16 attention: y (bfloat16, row stride ld)
// gets exp(x - row max) over the first `valid` columns and 0 after them,
// inv_sums[r] the row's 1 / Σ exp, which the caller applies to P·V's much
// shorter rows instead of to every probability. x is only read. Needs
// AVX-512 BW/VL and BF16 (only the bf16 attention path calls it).
void exp_rows_prefix_bf16(const float* x, int64_t rows, int64_t valid, int64_t ld, uint16_t* y,
                          float* inv_sums);
// One row of it, for raw scores: out[0, cols) gets exp(scale (x - max x))
// over x[0, valid) and 0 after; returns 1 / Σ. Same needs.
float exp_row_prefix_bf16(const float* x, int64_t valid, int64_t cols, float scale, uint16_t* out);

}  // namespace quasr::kernels
