#include "kernels/int8/amx_int8_matmul.h"

#include <cstring>

#include "kernels/amx_panel_loop.h"

namespace quasr::kernels::int8_detail {

namespace {

using amx_panels::kTileBytes;
using amx_panels::kTileRows;
using amx_panels::kTileSize;

// u8 rows x s8 weights: per 64 bytes of k, two row tiles (rows 0-15 and
// 16-31 of the block) meet the panel's two B tiles in four TDPBUSD.
struct U8S8 {
  using Input = uint8_t;
  using Acc = int32_t;
  static constexpr int64_t kValuesPerStep = 64;
  static constexpr int64_t kPanelStep = 2 * kTileSize;  // one panel's weights per step
  static constexpr int64_t kRowTilesPerStep = 1;

  QUASR_AMX_TARGET static void step(const uint8_t* a0, const uint8_t* a1,
                                    const amx_panels::RowTiles& rows, const int8_t* b) {
    amx_panels::load_operands(a0, a1, rows.stride, b);
    _tile_dpbusd(4, 0, 2);
    _tile_dpbusd(5, 0, 3);
    _tile_dpbusd(6, 1, 2);
    _tile_dpbusd(7, 1, 3);
  }

  // Rows 16g..16g+15 of q as k/64 tiles of 16 x 64 bytes; rows past m are
  // zero. A piece is one 64-byte load and store (memcpy made it four 16-byte
  // moves); AMX implies AVX-512.
  __attribute__((target("avx512f"))) static void pack_row_group(const uint8_t* q, int64_t m,
                                                                int64_t q_stride, int64_t steps,
                                                                int64_t g, uint8_t* packed) {
    uint8_t* group = packed + g * kTileRows * steps * kTileBytes;
    for (int64_t r = 0; r < kTileRows; ++r) {
      const int64_t row = g * kTileRows + r;
      uint8_t* dst = group + r * kTileBytes;
      if (row >= m) {
        for (int64_t s = 0; s < steps; ++s) std::memset(dst + s * kTileSize, 0, kTileBytes);
        continue;
      }
      const uint8_t* src = q + row * q_stride;
      for (int64_t s = 0; s < steps; ++s)
        _mm512_storeu_si512(dst + s * kTileSize, _mm512_loadu_si512(src + s * kTileBytes));
    }
  }
};

}  // namespace

bool AmxInt8Matmul::available() {
  static const bool usable = amx::usable(amx::Products::kInt8);
  return usable;
}

AmxInt8Matmul::AmxInt8Matmul(const int8_t* weight_nk, int64_t n, int64_t k)
    : n_(n),
      k_(k),
      panels_(amx_panels::round_up_to_block(n) / kAmxBlock),
      weights_(WeightMemory::of_bytes(panels_ * kAmxBlock * k)) {
  amx_panels::pack_weight_panels(weight_nk, n, k, k, panels_, kAmxBlock * k, U8S8::kPanelStep,
                                 weights_.bytes());
}

amx_panels::Panels AmxInt8Matmul::panels() const {
  return {weights_.bytes(), panels_, k_ / U8S8::kValuesPerStep};
}

void AmxInt8Matmul::run_rows_on_this_thread(const uint8_t* q, int64_t m, int64_t q_stride,
                                            int64_t first_row, AccumulatorSink block_done,
                                            RowIndexSink row_done) const {
  amx_panels::run_rows_on_this_thread<U8S8>(panels(), q, m, q_stride, first_row, block_done,
                                            row_done);
}

void AmxInt8Matmul::run(const uint8_t* q, int64_t m, int64_t q_stride, AccumulatorSink block_done,
                        RowIndexSink row_done) const {
  amx_panels::run_all_rows<U8S8>(panels(), q, m, q_stride, block_done, row_done);
}

void AmxInt8Matmul::run_direct_rows_on_this_thread(const uint8_t* q, int64_t m, int64_t q_stride,
                                                   AccumulatorSink block_done) const {
  if (m <= 0) return;
  amx_panels::PanelQueue queue(panels_, panels_);
  amx_panels::multiply_panels<U8S8>(panels(), amx_panels::RowTiles::direct(q, q_stride),
                                    amx_panels::round_up_to_block(m), m, queue, block_done);
}

}  // namespace quasr::kernels::int8_detail
