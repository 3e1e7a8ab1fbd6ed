// The u8 x s8 -> s32 matmuls of quasr's own that hand their int32 sums to
// the caller's epilogue one block at a time, while the block is in L1
// (int8/amx_int8_matmul.h on AMX, int8/avx2_int8_matmul.h where the CPU has
// no AVX-512): the dynamic int8 Linear and the extractor's int8 convs run on
// whichever the CPU has, and on oneDNN where neither covers the shape.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/cpu_features.h"
#include "kernels/amx_panels.h"

namespace quasr::kernels::int8_detail {

// acc[r * kAccBlock + c] = Σ_l q[row0 + r, l] w[col0 + c, l] for r < rows
// (at most kAccBlock, from any row0), always kAccBlock columns (col0 a
// multiple of kAccBlock); in the last block columns from n on are zero
// (padding). A block's rows may arrive in several pieces; every (row,
// column block) arrives once.
using AccumulatorSink = amx_panels::BlockSink<int32_t>;
using amx_panels::RowIndexSink;
constexpr int64_t kAccBlock = amx_panels::kBlock;

class BlockInt8Matmul {
 public:
  virtual ~BlockInt8Matmul() = default;

  // Multiplies q [m, k] (u8, row stride q_stride) by the weights on the
  // OpenMP threads. Each block goes to block_done on the thread that
  // computed it; once every block of a row is done, row_done (optional)
  // sees the row's index, on one of the threads. Not re-entrant from inside
  // the callbacks.
  virtual void run(const uint8_t* q, int64_t m, int64_t q_stride, AccumulatorSink block_done,
                   RowIndexSink row_done = {}) const = 0;

  // Rows [first_row, first_row + m) on the calling thread alone (q points
  // at row first_row; block_done sees absolute rows), then row_done
  // (optional) for each: for callers that split the rows between threads
  // themselves. Every block is done when it returns.
  virtual void run_rows_on_this_thread(const uint8_t* q, int64_t m, int64_t q_stride,
                                       int64_t first_row, AccumulatorSink block_done,
                                       RowIndexSink row_done = {}) const = 0;

  // For benchmarks and logs ("quasr:amx_int8", "quasr:avx2_int8").
  virtual std::string name() const = 0;
};

// quasr's kernel for n x k weights (row-major s8) on this CPU at ISA level
// isa, or null where none covers it (then oneDNN runs the product): AMX
// where usable, else the AVX2 kernel at level avx2. That one sums u8 x s8
// pairs in int16 (VPMADDUBSW): exact only for activations of 7 bits, which
// is what the callers use without VNNI.
std::unique_ptr<BlockInt8Matmul> make_block_int8_matmul(const int8_t* weight_nk, int64_t n,
                                                        int64_t k, IsaLevel isa);

}  // namespace quasr::kernels::int8_detail
