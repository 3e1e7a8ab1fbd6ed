// The AMX panel loop behind quasr's tile matmuls: u8 x s8 -> s32 for the
// dynamic int8 linears (int8/amx_int8_matmul.h) and bf16x3 -> f32 for the
// fp32 ones (amx_bf16x3_linear.h). A Product says what one 64-byte step of
// k loads and multiplies; everything else is shared: weights packed into
// 32-column panels in tile order, rows repacked into 16 x 64-byte tiles (one
// contiguous KiB per tile load), the threads' split of the work, the next
// panel prefetched into L2, and each finished 32 x 32 block handed to the
// caller's epilogue a few rows per k step inside the next block's loop,
// while its sums are in L1 (see PendingEpilogue for what that does and does
// not buy).
//
// This header: the shared types and constants; the loop itself is in
// amx_panel_loop.h, for those two kernels' .cc files only.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "core/function_ref.h"

namespace quasr::kernels::amx_panels {

constexpr int64_t kTileRows = 16;
constexpr int64_t kTileBytes = 64;                     // bytes of k per tile row
constexpr int64_t kTileSize = kTileRows * kTileBytes;  // 1 KiB
constexpr int64_t kBlock = 32;                         // rows and columns of one accumulator block
constexpr int64_t kEpiloguePieces = 4;  // calls per block epilogue, see multiply_panel
// Below this many multiply-adds one thread does the whole product.
constexpr int64_t kParallelWork = int64_t{1} << 20;
// Rows each thread needs before the threads split the rows rather than the
// panels: with fewer, every weight would cross into each thread's cache for
// too little work (it is reused by that thread's rows only).
constexpr int64_t kRowsPerThreadForRowSplit = 64;

template <typename Acc>
using BlockSink = FunctionRef<void(const Acc* acc, int64_t row0, int64_t rows, int64_t col0)>;
using RowIndexSink = FunctionRef<void(int64_t row)>;

// Rows [first, first + count).
struct RowRange {
  int64_t first = 0, count = 0;
};
// Thread `thread`'s share of m rows among `threads`: whole 16-row groups (the
// AMX row tile), as evenly as they go; the last share ends at m.
inline RowRange thread_rows(int64_t m, int64_t thread, int64_t threads) {
  const int64_t groups = (m + kTileRows - 1) / kTileRows;
  const int64_t first = std::min(m, groups * thread / threads * kTileRows);
  const int64_t last = std::min(m, groups * (thread + 1) / threads * kTileRows);
  return {first, last - first};
}

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

// count rounded up to whole 32-row (or 32-column) blocks.
inline int64_t round_up_to_block(int64_t count) {
  return (count + kBlock - 1) / kBlock * kBlock;
}

// Byte matrix w [n, k_bytes] (rows w_stride bytes apart; int8 weights, or
// bf16 ones two bytes a value) into tile order: panel p (columns
// 32p..32p+31), step s (bytes 64s..64s+63 of every column) is two B tiles at
// out + p * panel_bytes + s * step_bytes (+ 1 KiB for columns 16-31), each 16
// rows of (16 columns x 4 bytes) — the dword transpose TDPBUSD and TDPBF16PS
// expect. Columns from n on are zero.
void pack_weight_panels(const int8_t* w, int64_t n, int64_t w_stride, int64_t k_bytes,
                        int64_t panels, int64_t panel_bytes, int64_t step_bytes, int8_t* out);

// The packed weights of one product: panels of steps * Product::kPanelStep bytes.
struct Panels {
  const int8_t* weights;
  int64_t panels;
  int64_t steps;
};

}  // namespace quasr::kernels::amx_panels
