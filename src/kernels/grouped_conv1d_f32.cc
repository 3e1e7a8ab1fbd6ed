#include "kernels/grouped_conv1d_f32.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/cpu_features.h"
#include "core/error.h"
#include "kernels/vector_math_avx512.h"

namespace quasr::kernels {

namespace {

constexpr int64_t kMaxVectors = 4;          // 64 output channels per group
constexpr int64_t kChunkBytes = 32 * 1024;  // weights of one tap chunk: L1
constexpr int64_t kFramesPerTask = 256;     // output frames per parallel task
constexpr int64_t kMaxTileRows = 12;        // frames per register tile

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Register tile rows for `vectors` zmm per frame: 24 accumulators at most.
int64_t tile_rows(int64_t vectors) {
  return vectors <= 2 ? kMaxTileRows : 24 / vectors;
}

struct Tile {
  const float* x;       // input row of the tile's first frame at the chunk's first tap
  int64_t ldx;          // floats per input row
  const float* w;       // [tap][in channel][vectors * 16]
  int64_t taps;         // taps in this chunk
  int64_t channels;     // input channels per group
  float* y;             // output row of the tile's first frame (the group's first channel)
  int64_t ldy;          // floats per output row
  int64_t rows;         // valid frames in the tile
  __mmask16 last_mask;  // valid lanes of the last vector
  const float* bias;    // first chunk: accumulators start here (else from y)
  bool gelu;            // last chunk: apply before storing
};

template <int V, int R>
__attribute__((target("avx512f,fma"))) void run_tile(const Tile& t) {
  __m512 acc[R][V];
  for (int i = 0; i < R; ++i) {
    for (int v = 0; v < V; ++v) {
      const __mmask16 m = v == V - 1 ? t.last_mask : __mmask16(0xFFFF);
      if (t.bias != nullptr)
        acc[i][v] = _mm512_load_ps(t.bias + 16 * v);
      else
        acc[i][v] =
            i < t.rows ? _mm512_maskz_loadu_ps(m, t.y + i * t.ldy + 16 * v) : _mm512_setzero_ps();
    }
  }
  const int64_t stride = V * 16;
  for (int64_t tap = 0; tap < t.taps; ++tap) {
    const float* x = t.x + tap * t.ldx;
    const float* w = t.w + tap * t.channels * stride;
    for (int64_t c = 0; c < t.channels; ++c) {
      __m512 wv[V];
      for (int v = 0; v < V; ++v) wv[v] = _mm512_load_ps(w + c * stride + 16 * v);
      for (int i = 0; i < R; ++i) {
        const __m512 xi = _mm512_set1_ps(x[i * t.ldx + c]);
        for (int v = 0; v < V; ++v) acc[i][v] = _mm512_fmadd_ps(xi, wv[v], acc[i][v]);
      }
    }
  }
  for (int i = 0; i < R; ++i) {
    if (i >= t.rows) break;
    for (int v = 0; v < V; ++v) {
      const __mmask16 m = v == V - 1 ? t.last_mask : __mmask16(0xFFFF);
      const __m512 out = t.gelu ? avx512::gelu(acc[i][v]) : acc[i][v];
      _mm512_mask_storeu_ps(t.y + i * t.ldy + 16 * v, m, out);
    }
  }
}

void run_tile_for(int64_t vectors, const Tile& tile) {
  switch (vectors) {
    case 1:
      return run_tile<1, kMaxTileRows>(tile);
    case 2:
      return run_tile<2, kMaxTileRows>(tile);
    case 3:
      return run_tile<3, 8>(tile);
    default:
      return run_tile<4, 6>(tile);
  }
}

}  // namespace

bool GroupedConv1dF32::supports(const Conv1dShape& s) {
  return isa_level() >= IsaLevel::kAvx512 && s.stride == 1 && s.groups > 0 &&
         s.in_channels % s.groups == 0 && s.out_channels % s.groups == 0 &&
         s.out_channels / s.groups <= kMaxVectors * 16 && s.kernel > 0 && s.padding >= 0;
}

GroupedConv1dF32::GroupedConv1dF32(const Conv1dShape& shape, const float* weight, const float* bias,
                                   Activation activation)
    : shape_(shape), activation_(activation) {
  if (!supports(shape)) throw Error("GroupedConv1dF32: unsupported shape or CPU");
  const Conv1dShape& s = shape_;
  in_per_group_ = s.in_channels / s.groups;
  out_per_group_ = s.out_channels / s.groups;
  vectors_ = ceil_div(out_per_group_, 16);
  const int64_t stride = vectors_ * 16;
  tap_chunk_ = std::clamp<int64_t>(kChunkBytes / (in_per_group_ * stride * 4), 1, s.kernel);
  packed_.reserve(static_cast<size_t>(s.groups * s.kernel * in_per_group_ * stride));
  bias_.reserve(static_cast<size_t>(s.groups * stride));
  std::fill_n(packed_.data(), s.groups * s.kernel * in_per_group_ * stride, 0.0f);
  std::fill_n(bias_.data(), s.groups * stride, 0.0f);
  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t o = 0; o < out_per_group_; ++o) {
      const int64_t out = g * out_per_group_ + o;
      if (bias) bias_.data()[g * stride + o] = bias[out];
      for (int64_t c = 0; c < in_per_group_; ++c) {
        for (int64_t k = 0; k < s.kernel; ++k) {
          const float value = weight[(out * in_per_group_ + c) * s.kernel + k];
          packed_.data()[((g * s.kernel + k) * in_per_group_ + c) * stride + o] = value;
        }
      }
    }
  }
}

void GroupedConv1dF32::run(const float* x, int64_t t_in, float* y) const {
  const Conv1dShape& s = shape_;
  const int64_t t_out = s.output_length(t_in);
  if (t_out <= 0) return;
  // Zero rows around the input for the padding, and after it for the rows a
  // last, partial register tile reads but never stores.
  const int64_t rows = tile_rows(vectors_);
  const int64_t padded_rows = t_in + 2 * s.padding + rows;
  thread_local std::vector<float> padded_buffer;
  if (padded_buffer.size() < static_cast<size_t>(padded_rows * s.in_channels))
    padded_buffer.resize(static_cast<size_t>(padded_rows * s.in_channels));
  float* padded = padded_buffer.data();
  std::fill_n(padded, s.padding * s.in_channels, 0.0f);
  std::memcpy(padded + s.padding * s.in_channels, x, sizeof(float) * t_in * s.in_channels);
  std::fill_n(padded + (s.padding + t_in) * s.in_channels, (s.padding + rows) * s.in_channels,
              0.0f);

  const int64_t stride = vectors_ * 16;
  const int64_t rem = out_per_group_ - (vectors_ - 1) * 16;
  const __mmask16 last_mask = avx512::tail_mask(rem);
  const int64_t frame_tasks = ceil_div(t_out, kFramesPerTask);
  const int64_t tasks = s.groups * frame_tasks;
#pragma omp parallel for schedule(static) if (tasks > 1)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t g = task / frame_tasks;
    const int64_t first = (task % frame_tasks) * kFramesPerTask;
    const int64_t last = std::min(t_out, first + kFramesPerTask);
    for (int64_t k0 = 0; k0 < s.kernel; k0 += tap_chunk_) {
      Tile tile;
      tile.ldx = s.in_channels;
      tile.w = packed_.data() + (g * s.kernel + k0) * in_per_group_ * stride;
      tile.taps = std::min(tap_chunk_, s.kernel - k0);
      tile.channels = in_per_group_;
      tile.ldy = s.out_channels;
      tile.last_mask = last_mask;
      tile.bias = k0 == 0 ? bias_.data() + g * stride : nullptr;
      tile.gelu = k0 + tile.taps == s.kernel && activation_ == Activation::kGelu;
      for (int64_t t0 = first; t0 < last; t0 += rows) {
        tile.x = padded + (t0 + k0) * s.in_channels + g * in_per_group_;
        tile.y = y + t0 * s.out_channels + g * out_per_group_;
        tile.rows = std::min(rows, last - t0);
        run_tile_for(vectors_, tile);
      }
    }
  }
}

}  // namespace quasr::kernels
