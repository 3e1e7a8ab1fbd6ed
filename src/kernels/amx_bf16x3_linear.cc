#include "kernels/amx_bf16x3_linear.h"

#include <cstring>

#include "kernels/amx_panel_loop.h"
#include "kernels/vector_math_avx512.h"

namespace quasr::kernels {

namespace {

using amx_panels::kBlock;
using amx_panels::kTileBytes;
using amx_panels::kTileRows;
using amx_panels::kTileSize;

// k runs in slices of this many values, each a product of its own whose sums
// y collects: with all of k = 4096 at once a thread's packed rows fill L2 at
// 64 rows, so the 16 MiB of weights streamed from L3 once per 64 rows
// (quasr_gemm_bench, M = 300: 257 GMAC/s at k = 4096 vs ~400 at 1024).
constexpr int64_t kKSlice = 1024;

// Per 32 values of k: the block's row tiles (rows 0-15 and 16-31) in hi and
// lo halves meet the panel's hi and lo B tiles in twelve TDPBF16PS (four per
// product). Ten tile loads: the panel's hi tiles are loaded again for lo·hi
// (from L1) rather than keeping them, as 4 accumulators + 4 operands fill
// all 8 tiles.
struct Bf16x3 {
  using Input = float;
  using Acc = float;
  static constexpr int64_t kValuesPerStep = 32;
  static constexpr int64_t kPanelStep = 4 * kTileSize;  // hi cols 0-15, 16-31, lo cols 0-15, 16-31
  static constexpr int64_t kRowTilesPerStep = 2;        // hi, lo

  QUASR_AMX_TARGET static void step(const uint8_t* a0, const uint8_t* a1,
                                    const amx_panels::RowTiles& rows, const int8_t* b) {
    amx_panels::load_operands(a0, a1, rows.stride, b);  // hi rows, hi weights
    accumulate_products();
    _tile_loadd(2, b + 2 * kTileSize, kTileBytes);  // lo weights
    _tile_loadd(3, b + 3 * kTileSize, kTileBytes);
    accumulate_products();
    amx_panels::load_operands(a0 + rows.second_bytes, a1 + rows.second_bytes, rows.stride, b);
    accumulate_products();  // lo rows, hi weights
  }

  // Tiles 4-7 += tiles 0-1 x tiles 2-3 (see amx_panels::load_operands).
  QUASR_AMX_TARGET static void accumulate_products() {
    _tile_dpbf16ps(4, 0, 2);
    _tile_dpbf16ps(5, 0, 3);
    _tile_dpbf16ps(6, 1, 2);
    _tile_dpbf16ps(7, 1, 3);
  }

  // Rows 16g..16g+15 of x as, per 32 values of k, a tile of their hi halves
  // then a tile of their lo halves (16 x 32 bf16 each); rows past m are zero.
  static void pack_row_group(const float* x, int64_t m, int64_t x_stride, int64_t steps, int64_t g,
                             uint8_t* packed);
};

// hi = v rounded to bf16 (nearest even), lo = (v - hi) rounded to bf16.
__attribute__((target("avx512f,avx512bw,avx512bf16"))) inline void split_bf16(__m512 v,
                                                                              uint16_t* hi,
                                                                              uint16_t* lo) {
  const __m256i h = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v));
  const __m512 h_as_float = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  const __m256i l = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_sub_ps(v, h_as_float)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(hi), h);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo), l);
}

// The halves of n values (n a multiple of 16).
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void split_bf16_n(const float* v, int64_t n,
                                                                         uint16_t* hi,
                                                                         uint16_t* lo) {
  for (int64_t i = 0; i < n; i += 16) split_bf16(_mm512_loadu_ps(v + i), hi + i, lo + i);
}

__attribute__((target("avx512f,avx512bw,avx512bf16"))) void Bf16x3::pack_row_group(
    const float* x, int64_t m, int64_t x_stride, int64_t steps, int64_t g, uint8_t* packed) {
  uint8_t* group = packed + g * steps * kRowTilesPerStep * kTileSize;
  for (int64_t r = 0; r < kTileRows; ++r) {
    const int64_t row = g * kTileRows + r;
    uint8_t* dst = group + r * kTileBytes;
    if (row >= m) {
      for (int64_t s = 0; s < steps * kRowTilesPerStep; ++s)
        std::memset(dst + s * kTileSize, 0, kTileBytes);
      continue;
    }
    const float* src = x + row * x_stride;
    for (int64_t s = 0; s < steps; ++s) {
      auto* hi = reinterpret_cast<uint16_t*>(dst + s * kRowTilesPerStep * kTileSize);
      auto* lo = reinterpret_cast<uint16_t*>(dst + s * kRowTilesPerStep * kTileSize + kTileSize);
      split_bf16(_mm512_loadu_ps(src + s * 32), hi, lo);
      split_bf16(_mm512_loadu_ps(src + s * 32 + 16), hi + 16, lo + 16);
    }
  }
}

// Steps of 32 values in the k slice that starts at `first`.
int64_t slice_steps(int64_t k, int64_t first) {
  return std::min(kKSlice, k - first) / Bf16x3::kValuesPerStep;
}

// Where a block of one k slice's sums goes: y (row stride y_stride, n
// columns), added to what earlier slices left there unless `first`, and
// finished (bias, activation) if `last`.
struct SliceOutput {
  float* y;
  int64_t y_stride, n;
  const float* bias;
  bool gelu, first, last;
};

// y rows [row0, row0 + rows), columns [col0, col0 + 32) ∩ [0, n).
__attribute__((target("avx512f,fma"))) void store_block(const float* acc, int64_t row0,
                                                        int64_t rows, int64_t col0,
                                                        const SliceOutput& out) {
  for (int64_t half = 0; half < 2; ++half) {
    const int64_t c = col0 + 16 * half;
    if (c >= out.n) break;
    const __mmask16 mask =
        out.n - c >= 16 ? 0xffff : static_cast<__mmask16>((1u << (out.n - c)) - 1);
    const __m512 b = out.last ? _mm512_loadu_ps(out.bias + c) : _mm512_setzero_ps();
    for (int64_t r = 0; r < rows; ++r) {
      float* dst = out.y + (row0 + r) * out.y_stride + c;
      __m512 v = _mm512_add_ps(_mm512_load_ps(acc + r * kBlock + 16 * half), b);
      if (!out.first) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, dst));
      if (out.last && out.gelu) v = avx512::gelu(v);
      _mm512_mask_storeu_ps(dst, mask, v);
    }
  }
}

}  // namespace

bool AmxBf16x3Linear::available() {
  static const bool usable = amx::usable(amx::Products::kBf16);
  return usable;
}

AmxBf16x3Linear::AmxBf16x3Linear(const float* weight_nk, const float* bias, int64_t n, int64_t k,
                                 Activation activation)
    : n_(n),
      k_(k),
      panels_(amx_panels::round_up_to_block(n) / kBlock),
      activation_(activation),
      bias_(static_cast<size_t>(panels_ * kBlock), 0.0f),
      // hi and lo bf16 halves: 4 bytes per weight
      weights_(WeightMemory::of_bytes(panels_ * kBlock * k * 4)) {
  if (bias) std::memcpy(bias_.data(), bias, sizeof(float) * n);
  std::vector<uint16_t> hi(static_cast<size_t>(n * k)), lo(hi.size());
  split_bf16_n(weight_nk, n * k, hi.data(), lo.data());
  // Slice by slice of k; per panel and step of 32 values: the hi tiles, then the lo tiles.
  int8_t* out = weights_.bytes();
  for (int64_t first = 0; first < k; first += kKSlice) {
    const int64_t steps = slice_steps(k, first);
    const int64_t panel_bytes = steps * Bf16x3::kPanelStep;
    const auto* slice_hi = reinterpret_cast<const int8_t*>(hi.data() + first);
    const auto* slice_lo = reinterpret_cast<const int8_t*>(lo.data() + first);
    amx_panels::pack_weight_panels(slice_hi, n, 2 * k, 2 * steps * Bf16x3::kValuesPerStep, panels_,
                                   panel_bytes, Bf16x3::kPanelStep, out);
    amx_panels::pack_weight_panels(slice_lo, n, 2 * k, 2 * steps * Bf16x3::kValuesPerStep, panels_,
                                   panel_bytes, Bf16x3::kPanelStep, out + 2 * kTileSize);
    out += panels_ * panel_bytes;
  }
}

void AmxBf16x3Linear::run(const float* x, int64_t m, int64_t x_row_stride, float* y,
                          int64_t y_row_stride) const {
  const int8_t* weights = weights_.bytes();
  for (int64_t first = 0; first < k_; first += kKSlice) {
    const int64_t steps = slice_steps(k_, first);
    const SliceOutput out{
        y,          y_row_stride,         n_, bias_.data(), activation_ == Activation::kGelu,
        first == 0, first + kKSlice >= k_};
    auto block_done = [&](const float* acc, int64_t row0, int64_t rows, int64_t col0) {
      store_block(acc, row0, rows, col0, out);
    };
    const amx_panels::Panels panels{weights, panels_, steps};
    amx_panels::run_all_rows<Bf16x3>(panels, x + first, m, x_row_stride, block_done, {});
    weights += panels_ * steps * Bf16x3::kPanelStep;
  }
}

}  // namespace quasr::kernels
