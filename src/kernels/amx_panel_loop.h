// The templates of the AMX panel loop (see amx_panels.h); include only
// from the .cc files of the kernels built on it.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <atomic>

#include <omp.h>

#include "core/tensor.h"
#include "kernels/amx_panels.h"
#include "kernels/amx_tiles.h"

namespace quasr::kernels::amx_panels {

// Where multiply_panel finds the row tiles: packed (16 x 64-byte tiles in a
// row) or straight in the caller's rows (stride apart).
struct RowTiles {
  const uint8_t* base;
  int64_t block_bytes;   // from one 32-row block to the next
  int64_t half_bytes;    // from a block's rows 0-15 to rows 16-31
  int64_t step_bytes;    // from one step of k to the next
  int64_t stride;        // between a tile's rows
  int64_t second_bytes;  // from a step's first row tile to its second (Products with two)

  // tiles_per_step row tiles per step of 16 rows, steps steps per 16 rows.
  static RowTiles packed(const uint8_t* rows, int64_t steps, int64_t tiles_per_step) {
    const int64_t group = steps * tiles_per_step * kTileSize;
    return {rows, 2 * group, group, tiles_per_step * kTileSize, kTileBytes, kTileSize};
  }
  static RowTiles direct(const uint8_t* q, int64_t q_stride) {
    return {q, kBlock * q_stride, kTileRows * q_stride, kTileBytes, q_stride, 0};
  }
};

// A finished block whose epilogue runs a few rows at a time inside the next
// block's k loop (run back to back, each waited for the other, the epilogue
// cost a fifth of the product's time). What it buys is the sums read from
// L1, not vector work hidden under the tile unit's: on this core a loop of
// int8 steps with GELU vectors between them took the sum of the two loops'
// times, and 8 or 16 pieces per block were slower than 4.
template <typename Acc>
struct PendingEpilogue {
  const Acc* acc = nullptr;
  int64_t row0 = 0, rows = 0, col0 = 0, done = 0;

  void advance(int64_t count, BlockSink<Acc> block_done) {
    count = std::min(count, rows - done);
    if (count <= 0) return;
    block_done(acc + done * kBlock, row0 + done, count, col0);
    done += count;
  }
  void finish(BlockSink<Acc> block_done) { advance(rows - done, block_done); }
};

// Accumulators of the block being finished and of the one being multiplied.
template <typename Acc>
struct alignas(64) AccumulatorBuffers {
  Acc block[2][kBlock * kBlock];
  int next = 0;
};

#define QUASR_AMX_TARGET __attribute__((target("amx-tile,amx-int8,amx-bf16,avx512f")))

// The operands of a step's four products: tiles 0 and 1 take the row tiles
// of the block's rows 0-15 (a0) and 16-31 (a1), with the no-reuse hint (see
// multiply_panel); tiles 2 and 3 the panel's B tiles of its columns 0-15 (b)
// and 16-31 (b + 1 KiB). Tiles 4-7 are the accumulators (rows x columns
// 0-15/16-31 as 4, 5 for rows 0-15 and 6, 7 for rows 16-31).
QUASR_AMX_TARGET inline void load_operands(const uint8_t* a0, const uint8_t* a1, int64_t stride,
                                           const int8_t* b) {
  _tile_stream_loadd(0, a0, stride);
  _tile_loadd(2, b, kTileBytes);
  _tile_stream_loadd(1, a1, stride);
  _tile_loadd(3, b + kTileSize, kTileBytes);
}

// One 32-column panel against every 32-row block of the rows. The weights
// come from DRAM (each is used once per utterance), and tile loads from
// memory stall the AMX unit: next_panel (null for the last) is fetched into
// L2 along the way, spread over every step of every block. Product::step
// loads the row tiles with the no-reuse hint (TILELOADDT1), so they do not
// push the panel (reused by every block) out of L1: 1.7 -> 2.2 TMAC/s per
// core in a loop of just those loads and int8 products.
template <typename Product>
QUASR_AMX_TARGET void multiply_panel(const RowTiles& rows, int64_t padded_m, int64_t m,
                                     int64_t steps, const int8_t* panel, const int8_t* next_panel,
                                     int64_t col0, BlockSink<typename Product::Acc> block_done,
                                     AccumulatorBuffers<typename Product::Acc>& buffers,
                                     PendingEpilogue<typename Product::Acc>& pending) {
  using Acc = typename Product::Acc;
  constexpr int64_t kAccStride = kBlock * sizeof(Acc);
  const int64_t panel_bytes = steps * Product::kPanelStep;
  const int64_t blocks = padded_m / kBlock;
  const int64_t lines_per_step = next_panel ? (Product::kPanelStep / 64 + blocks - 1) / blocks : 0;
  // The previous block's epilogue in kEpiloguePieces calls spread over the
  // steps: one call per step (2 rows at k = 1024) made FFN1's product with
  // its GELU epilogue take 1.5x as long (rdtsc around it on one thread).
  const int64_t pieces = std::min(kEpiloguePieces, steps);
  const int64_t steps_per_piece = steps / pieces;
  const int64_t rows_per_piece = (kBlock + pieces - 1) / pieces;
  const char* prefetch = reinterpret_cast<const char*>(next_panel);
  const char* prefetch_end = prefetch + (next_panel ? panel_bytes : 0);
  for (int64_t row0 = 0; row0 < padded_m; row0 += kBlock) {
    _tile_zero(4);
    _tile_zero(5);
    _tile_zero(6);
    _tile_zero(7);
    const uint8_t* a0 = rows.base + row0 / kBlock * rows.block_bytes;
    const uint8_t* a1 = a0 + rows.half_bytes;
    const int8_t* b = panel;
    const int64_t valid_rows = std::min(kBlock, m - row0);
    for (int64_t s = 0; s < steps; ++s, b += Product::kPanelStep) {
      Product::step(a0 + s * rows.step_bytes, a1 + s * rows.step_bytes, rows, b);
      if ((s + 1) % steps_per_piece == 0) pending.advance(rows_per_piece, block_done);
      for (int64_t l = 0; l < lines_per_step && prefetch < prefetch_end; ++l, prefetch += 64)
        _mm_prefetch(prefetch, _MM_HINT_T1);
    }
    pending.finish(block_done);
    Acc* acc = buffers.block[buffers.next];
    buffers.next ^= 1;
    _tile_stored(4, acc, kAccStride);
    _tile_stored(5, acc + 16, kAccStride);
    _tile_stored(6, acc + 16 * kBlock, kAccStride);
    _tile_stored(7, acc + 16 * kBlock + 16, kAccStride);
    pending = PendingEpilogue<Acc>{acc, row0, valid_rows, col0, 0};
  }
}

// Runs of panels taken from queue until it is empty. Each panel prefetches
// the next one into L2, which is this thread's own half the time (runs of
// two) and costs nothing the other half: a wasted fetch, no stall.
template <typename Product>
void multiply_panels(const Panels& w, const RowTiles& rows, int64_t padded_m, int64_t m,
                     PanelQueue& queue, BlockSink<typename Product::Acc> block_done) {
  AccumulatorBuffers<typename Product::Acc> buffers;
  PendingEpilogue<typename Product::Acc> pending;
  const int64_t panel_bytes = w.steps * Product::kPanelStep;
  amx::configure_tiles();
  for (int64_t first, last; queue.take(&first, &last);) {
    for (int64_t p = first; p < last; ++p) {
      const int8_t* panel = w.weights + p * panel_bytes;
      multiply_panel<Product>(rows, padded_m, m, w.steps, panel,
                              p + 1 < queue.panels() ? panel + panel_bytes : nullptr, p * kBlock,
                              block_done, buffers, pending);
    }
  }
  amx::release_tiles();
  pending.finish(block_done);
}

// Packed rows one thread multiplies at a time: half its L2 (2 MiB here).
constexpr int64_t kPackedRowBytes = int64_t{1} << 20;

// The calling thread's buffer for padded_m rows in Product's tile order.
template <typename Product>
uint8_t* packed_rows(int64_t padded_m, int64_t steps) {
  thread_local AlignedBuffer buffer;
  buffer.reserve(
      static_cast<size_t>(padded_m * steps * Product::kRowTilesPerStep * kTileBytes / 4));
  return reinterpret_cast<uint8_t*>(buffer.data());
}

template <typename Product>
RowTiles packed_tiles(const uint8_t* packed, int64_t steps) {
  return RowTiles::packed(packed, steps, Product::kRowTilesPerStep);
}

// Rows [first_row, first_row + m) of x times the panels on the calling
// thread alone (x points at row first_row; block_done sees absolute rows),
// then row_done (optional) for each of them, chunk by chunk: the rows go
// through in chunks whose packed tiles stay in L2 (each panel passes over
// every row of a chunk; a thread's rows of a long input, packed whole, came
// from DRAM once per panel and took tens of MB of buffer).
template <typename Product>
void run_rows_on_this_thread(const Panels& w, const typename Product::Input* x, int64_t m,
                             int64_t x_stride, int64_t first_row,
                             BlockSink<typename Product::Acc> block_done, RowIndexSink row_done) {
  if (m <= 0) return;
  const int64_t row_bytes = w.steps * Product::kRowTilesPerStep * kTileBytes;
  const int64_t chunk = std::max(kBlock, kPackedRowBytes / row_bytes / kBlock * kBlock);
  uint8_t* packed = packed_rows<Product>(round_up_to_block(std::min(m, chunk)), w.steps);
  for (int64_t done = 0; done < m; done += chunk) {
    const int64_t rows = std::min(chunk, m - done);
    const int64_t padded = round_up_to_block(rows);
    for (int64_t g = 0; g < padded / kTileRows; ++g)
      Product::pack_row_group(x + done * x_stride, rows, x_stride, w.steps, g, packed);
    const int64_t chunk_first = first_row + done;
    auto shifted = [&](const typename Product::Acc* acc, int64_t row0, int64_t count,
                       int64_t col0) { block_done(acc, chunk_first + row0, count, col0); };
    PanelQueue queue(w.panels, w.panels);
    multiply_panels<Product>(w, packed_tiles<Product>(packed, w.steps), padded, rows, queue,
                             shifted);
    if (row_done)
      for (int64_t i = chunk_first; i < chunk_first + rows; ++i) row_done(i);
  }
}

// All of x [m, k] times the panels, on the OpenMP threads; each block goes
// to block_done on the thread that computed it, then row_done (optional)
// once per row after all of its blocks. Not re-entrant from the callbacks.
template <typename Product>
void run_all_rows(const Panels& w, const typename Product::Input* x, int64_t m, int64_t x_stride,
                  BlockSink<typename Product::Acc> block_done, RowIndexSink row_done) {
  if (m <= 0) return;
  const int64_t macs = m * w.panels * kBlock * w.steps * Product::kValuesPerStep;
  const int threads = macs >= kParallelWork ? omp_get_max_threads() : 1;
  const int64_t padded_m = round_up_to_block(m);
  if (padded_m >= kRowsPerThreadForRowSplit * threads) {
    // Each thread its own rows, all panels: no barrier at all (under a
    // passive wait policy each one costs a sleeping thread's wake-up), each
    // thread packs only its rows, and row_done follows on the same thread.
    // Every weight is read by every thread, from L3 after the first.
#pragma omp parallel num_threads(threads)
    {
      const RowRange own = thread_rows(m, omp_get_thread_num(), omp_get_num_threads());
      run_rows_on_this_thread<Product>(w, x + own.first * x_stride, own.count, x_stride, own.first,
                                       block_done, row_done);
    }
    return;
  }
  uint8_t* packed = packed_rows<Product>(padded_m, w.steps);
  // Too few rows to give each thread its own: the threads share the panels,
  // in runs of two handed out in order, so a thread that started late or
  // runs slower (a shared machine) takes fewer: with fixed halves one thread
  // waited for the other at the end for ~15 % of the product's time.
  PanelQueue queue(w.panels, 2);
  std::atomic<int64_t> next_group{0};
#pragma omp parallel num_threads(threads)
  {
    // A shared counter here too: the second thread wakes up late.
    for (int64_t g;
         (g = next_group.fetch_add(1, std::memory_order_relaxed)) < padded_m / kTileRows;)
      Product::pack_row_group(x, m, x_stride, w.steps, g, packed);
#pragma omp barrier
    multiply_panels<Product>(w, packed_tiles<Product>(packed, w.steps), padded_m, m, queue,
                             block_done);
    if (row_done) {
#pragma omp barrier
#pragma omp for schedule(dynamic, 16)
      for (int64_t i = 0; i < m; ++i) row_done(i);
    }
  }
}

}  // namespace quasr::kernels::amx_panels
