#include "kernels/int8/amx_int8_matmul.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include <omp.h>

#include "core/tensor.h"
#include "kernels/amx_tiles.h"
#include "kernels/vector_math_avx512.h"

namespace quasr::kernels::int8_detail {

namespace {

// Runs of `run` consecutive panels, taken by whichever thread asks first.
class PanelQueue {
 public:
  PanelQueue(int64_t panels, int64_t run) : panels_(panels), run_(run) {}
  bool take(int64_t* first, int64_t* last) {
    *first = next_.fetch_add(run_, std::memory_order_relaxed);
    *last = std::min(panels_, *first + run_);
    return *first < panels_;
  }
  int64_t panels() const { return panels_; }

 private:
  const int64_t panels_, run_;
  std::atomic<int64_t> next_{0};
};

constexpr int64_t kTileRows = 16;
constexpr int64_t kTileBytes = 64;                     // k values per tile row step
constexpr int64_t kTileSize = kTileRows * kTileBytes;  // 1 KiB
constexpr int64_t kPanelStep = 2 * kTileSize;          // one panel's weights per 64 of k
constexpr int64_t kEpiloguePieces = 4;  // calls per block epilogue, see multiply_panel
// Below this many multiply-adds one thread does the whole product.
constexpr int64_t kParallelWork = int64_t{1} << 20;

int8_t* weight_data(const WeightMemory& memory) {
  return static_cast<int8_t*>(memory.get().get_data_handle());
}

// Panel p (columns 32p..32p+31), step s (k 64s..64s+63): two B tiles, each
// 16 rows of (16 columns x 4 consecutive k) — the layout TDPBUSD expects.
// Each tile is the dword transpose of its 16 columns' 64 bytes; columns
// from n on (the last panel's padding) are zero.
__attribute__((target("avx512f"))) void pack_weights(const int8_t* w, int64_t n, int64_t k,
                                                     int64_t panels, int8_t* out) {
  for (int64_t c0 = 0; c0 < panels * kAmxBlock; c0 += 16) {
    const int64_t p = c0 / kAmxBlock, half = c0 % kAmxBlock / 16;
    for (int64_t s = 0; s < k / kTileBytes; ++s) {
      __m512i rows[16];
      for (int c = 0; c < 16; ++c)
        rows[c] = c0 + c < n ? _mm512_loadu_si512(w + (c0 + c) * k + s * kTileBytes)
                             : _mm512_setzero_si512();
      avx512::transpose_16x16(rows);
      int8_t* tile = out + p * kAmxBlock * k + s * kPanelStep + half * kTileSize;
      for (int quad = 0; quad < kTileRows; ++quad)
        _mm512_storeu_si512(tile + quad * kTileBytes, rows[quad]);
    }
  }
}

// Rows 16g..16g+15 of q as k/64 tiles of 16 x 64 bytes; rows past m are zero.
void pack_row_group(const uint8_t* q, int64_t m, int64_t q_stride, int64_t k, int64_t g,
                    uint8_t* packed) {
  uint8_t* group = packed + g * kTileRows * k;
  for (int64_t r = 0; r < kTileRows; ++r) {
    const int64_t row = g * kTileRows + r;
    uint8_t* dst = group + r * kTileBytes;
    if (row >= m) {
      for (int64_t s = 0; s < k / kTileBytes; ++s) std::memset(dst + s * kTileSize, 0, kTileBytes);
      continue;
    }
    const uint8_t* src = q + row * q_stride;
    for (int64_t s = 0; s < k / kTileBytes; ++s)
      std::memcpy(dst + s * kTileSize, src + s * kTileBytes, kTileBytes);
  }
}

// Where multiply_panel finds the row tiles: packed (16 x 64-byte tiles in a
// row, pack_row_group) or straight in the caller's rows (q_stride apart).
struct RowTiles {
  const uint8_t* base;
  int64_t block_bytes;  // from one 32-row block to the next
  int64_t half_bytes;   // from a block's rows 0-15 to rows 16-31
  int64_t step_bytes;   // from one 64-value step of k to the next
  int64_t stride;       // between a tile's rows

  static RowTiles packed(const uint8_t* rows, int64_t k) {
    return {rows, kAmxBlock * k, kTileRows * k, kTileSize, kTileBytes};
  }
  static RowTiles direct(const uint8_t* q, int64_t q_stride) {
    return {q, kAmxBlock * q_stride, kTileRows * q_stride, kTileBytes, q_stride};
  }
};

// A finished block whose epilogue runs a few rows at a time inside the next
// block's k loop: the tile unit keeps multiplying while the vector units
// dequantize (run back to back, each waited for the other).
struct PendingEpilogue {
  const int32_t* acc = nullptr;
  int64_t row0 = 0, rows = 0, col0 = 0, done = 0;

  void advance(int64_t count, AccumulatorSink block_done) {
    count = std::min(count, rows - done);
    if (count <= 0) return;
    block_done(acc + done * kAmxBlock, row0 + done, count, col0);
    done += count;
  }
  void finish(AccumulatorSink block_done) { advance(rows - done, block_done); }
};

// Accumulators of the block being finished and of the one being multiplied.
struct alignas(64) AccumulatorBuffers {
  int32_t block[2][kAmxBlock * kAmxBlock];
  int next = 0;
};

// One 32-column panel against every 32-row block of the packed rows. The
// weights come from DRAM (each is used once per utterance), and tile loads
// from memory stall the AMX unit: next_panel (null for the last) is fetched
// into L2 along the way, spread over every step of every block. The row
// tiles stream through from L2 with the no-reuse hint (TILELOADDT1), so they
// do not push the panel (32 KiB at k = 1024, reused by every block) out of
// L1: 1.7 -> 2.2 TMAC/s per core in a loop of just these loads and products.
__attribute__((target("amx-tile,amx-int8"))) void multiply_panel(
    const RowTiles& rows, int64_t padded_m, int64_t m, int64_t k, const int8_t* panel,
    const int8_t* next_panel, int64_t col0, AccumulatorSink block_done, AccumulatorBuffers& buffers,
    PendingEpilogue& pending) {
  constexpr int64_t kAccStride = kAmxBlock * sizeof(int32_t);
  const int64_t steps = k / kTileBytes;
  const int64_t blocks = padded_m / kAmxBlock;
  const int64_t lines_per_step = next_panel ? (kPanelStep / 64 + blocks - 1) / blocks : 0;
  // The previous block's epilogue in kEpiloguePieces calls spread over the
  // steps: one call per step (2 rows at k = 1024) made FFN1's product with
  // its GELU epilogue take 1.5x as long (rdtsc around it on one thread).
  const int64_t pieces = std::min(kEpiloguePieces, steps);
  const int64_t steps_per_piece = steps / pieces;
  const int64_t rows_per_piece = (kAmxBlock + pieces - 1) / pieces;
  const char* prefetch = reinterpret_cast<const char*>(next_panel);
  const char* prefetch_end = prefetch + (next_panel ? kAmxBlock * k : 0);
  for (int64_t row0 = 0; row0 < padded_m; row0 += kAmxBlock) {
    _tile_zero(4);
    _tile_zero(5);
    _tile_zero(6);
    _tile_zero(7);
    const uint8_t* a0 = rows.base + row0 / kAmxBlock * rows.block_bytes;
    const uint8_t* a1 = a0 + rows.half_bytes;
    const int8_t* b = panel;
    const int64_t valid_rows = std::min(kAmxBlock, m - row0);
    for (int64_t s = 0; s < steps; ++s, b += kPanelStep) {
      _tile_stream_loadd(0, a0 + s * rows.step_bytes, rows.stride);
      _tile_loadd(2, b, kTileBytes);
      _tile_stream_loadd(1, a1 + s * rows.step_bytes, rows.stride);
      _tile_loadd(3, b + kTileSize, kTileBytes);
      _tile_dpbusd(4, 0, 2);
      _tile_dpbusd(5, 0, 3);
      _tile_dpbusd(6, 1, 2);
      _tile_dpbusd(7, 1, 3);
      if ((s + 1) % steps_per_piece == 0) pending.advance(rows_per_piece, block_done);
      for (int64_t l = 0; l < lines_per_step && prefetch < prefetch_end; ++l, prefetch += 64)
        _mm_prefetch(prefetch, _MM_HINT_T1);
    }
    pending.finish(block_done);
    int32_t* acc = buffers.block[buffers.next];
    buffers.next ^= 1;
    _tile_stored(4, acc, kAccStride);
    _tile_stored(5, acc + 16, kAccStride);
    _tile_stored(6, acc + 16 * kAmxBlock, kAccStride);
    _tile_stored(7, acc + 16 * kAmxBlock + 16, kAccStride);
    pending = PendingEpilogue{acc, row0, valid_rows, col0, 0};
  }
}

// count rounded up to whole 32-row (or 32-column) blocks.
int64_t round_up_to_block(int64_t count) {
  return (count + kAmxBlock - 1) / kAmxBlock * kAmxBlock;
}

// The calling thread's buffer for padded_m rows of k bytes in tile order.
uint8_t* packed_rows(int64_t padded_m, int64_t k) {
  thread_local AlignedBuffer buffer;
  buffer.reserve(static_cast<size_t>(padded_m * k / 4));
  return reinterpret_cast<uint8_t*>(buffer.data());
}

// Runs of panels taken from queue until it is empty. Each panel prefetches
// the next one into L2, which is this thread's own half the time (runs of
// two) and costs nothing the other half: a wasted fetch, no stall.
void multiply_panels(const int8_t* weights, int64_t k, const RowTiles& rows, int64_t padded_m,
                     int64_t m, PanelQueue& queue, AccumulatorSink block_done) {
  AccumulatorBuffers buffers;
  PendingEpilogue pending;
  amx::configure_tiles();
  for (int64_t first, last; queue.take(&first, &last);) {
    for (int64_t p = first; p < last; ++p) {
      const int8_t* panel = weights + p * kAmxBlock * k;
      multiply_panel(rows, padded_m, m, k, panel,
                     p + 1 < queue.panels() ? panel + kAmxBlock * k : nullptr, p * kAmxBlock,
                     block_done, buffers, pending);
    }
  }
  amx::release_tiles();
  pending.finish(block_done);
}

}  // namespace

RowRange thread_rows(int64_t m, int64_t thread, int64_t threads) {
  const int64_t groups = (m + kTileRows - 1) / kTileRows;
  const int64_t first = std::min(m, groups * thread / threads * kTileRows);
  const int64_t last = std::min(m, groups * (thread + 1) / threads * kTileRows);
  return {first, last - first};
}

bool AmxInt8Matmul::available() {
  static const bool usable = amx::usable(amx::Products::kInt8);
  return usable;
}

AmxInt8Matmul::AmxInt8Matmul(const int8_t* weight_nk, int64_t n, int64_t k)
    : n_(n),
      k_(k),
      panels_(round_up_to_block(n) / kAmxBlock),
      weights_(dnnl::memory::desc({panels_ * kAmxBlock * k}, dnnl::memory::data_type::s8,
                                  dnnl::memory::format_tag::a)) {
  pack_weights(weight_nk, n, k, panels_, weight_data(weights_));
}

void AmxInt8Matmul::run_rows_on_this_thread(const uint8_t* q, int64_t m, int64_t q_stride,
                                            int64_t first_row, AccumulatorSink block_done,
                                            RowIndexSink row_done) const {
  if (m <= 0) return;
  const int64_t padded_m = round_up_to_block(m);
  uint8_t* packed = packed_rows(padded_m, k_);
  for (int64_t g = 0; g < padded_m / kTileRows; ++g) pack_row_group(q, m, q_stride, k_, g, packed);
  auto shifted = [&](const int32_t* acc, int64_t row0, int64_t rows, int64_t col0) {
    block_done(acc, first_row + row0, rows, col0);
  };
  PanelQueue queue(panels_, panels_);
  multiply_panels(weight_data(weights_), k_, RowTiles::packed(packed, k_), padded_m, m, queue,
                  shifted);
  if (row_done)
    for (int64_t i = first_row; i < first_row + m; ++i) row_done(i);
}

void AmxInt8Matmul::run(const uint8_t* q, int64_t m, int64_t q_stride, AccumulatorSink block_done,
                        RowIndexSink row_done) const {
  if (m <= 0) return;
  const int threads = m * n_ * k_ >= kParallelWork ? omp_get_max_threads() : 1;
  const int64_t padded_m = round_up_to_block(m);
  if (padded_m >= kRowsPerThreadForRowSplit * threads) {
    // Each thread its own rows, all panels: no barrier at all (under a
    // passive wait policy each one costs a sleeping thread's wake-up), each
    // thread packs only its rows, and row_done follows on the same thread.
    // Every weight is read by every thread, from L3 after the first.
#pragma omp parallel num_threads(threads)
    {
      const RowRange own = thread_rows(m, omp_get_thread_num(), omp_get_num_threads());
      run_rows_on_this_thread(q + own.first * q_stride, own.count, q_stride, own.first, block_done,
                              row_done);
    }
    return;
  }
  uint8_t* packed = packed_rows(padded_m, k_);
  // Too few rows to give each thread its own: the threads share the panels,
  // in runs of two handed out in order, so a thread that started late or
  // runs slower (a shared machine) takes fewer: with fixed halves one thread
  // waited for the other at the end for ~15 % of the product's time.
  PanelQueue queue(panels_, 2);
  std::atomic<int64_t> next_group{0};
#pragma omp parallel num_threads(threads)
  {
    // A shared counter here too: the second thread wakes up late.
    for (int64_t g;
         (g = next_group.fetch_add(1, std::memory_order_relaxed)) < padded_m / kTileRows;)
      pack_row_group(q, m, q_stride, k_, g, packed);
#pragma omp barrier
    multiply_panels(weight_data(weights_), k_, RowTiles::packed(packed, k_), padded_m, m, queue,
                    block_done);
    if (row_done) {
#pragma omp barrier
#pragma omp for schedule(dynamic, 16)
      for (int64_t i = 0; i < m; ++i) row_done(i);
    }
  }
}

void AmxInt8Matmul::run_direct_rows_on_this_thread(const uint8_t* q, int64_t m, int64_t q_stride,
                                                   AccumulatorSink block_done) const {
  if (m <= 0) return;
  PanelQueue queue(panels_, panels_);
  multiply_panels(weight_data(weights_), k_, RowTiles::direct(q, q_stride), round_up_to_block(m), m,
                  queue, block_done);
}

}  // namespace quasr::kernels::int8_detail
