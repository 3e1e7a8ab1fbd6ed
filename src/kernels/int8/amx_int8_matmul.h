// u8 x s8 -> s32 matmul on Intel AMX tiles, for the dynamic int8 Linear:
// weights packed once into tile order, the int32 result handed to the
// caller's epilogue 32 x 32 at a time while it is in L1.
//
// Why not oneDNN: its brgemm (2.6) writes the whole int32 result to memory
// and quasr's dequantizing epilogue reads it back; for the large model's
// feed-forward that is 5 MB each way per 320 frames. Here the threads take
// runs of two 32-column panels from a shared counter: for every 32-row block
// the panel's weights (a few KiB per 64 of k, in L1 after the first block)
// meet two row tiles, and the four accumulators are stored to a 4 KiB buffer.
// The epilogue of that block then runs a few rows per k step inside the
// next block's loop, reading the sums from L1 (a fifth cheaper than one
// after the other; the tile and vector units still take turns, see
// amx_panel_loop.h). Rows are first repacked into 16 x 64-byte tiles so each
// tile load is one contiguous KiB (strided loads of long rows hit the same
// L1 sets).
#pragma once

#include <cstdint>

#include "core/function_ref.h"
#include "kernels/amx_panels.h"
#include "kernels/int8/block_int8_matmul.h"
#include "kernels/weight_memory.h"

namespace quasr::kernels::int8_detail {

// Blocks as block_int8_matmul.h describes them.
constexpr int64_t kAmxBlock = kAccBlock;  // rows and columns of one accumulator block
using amx_panels::kRowsPerThreadForRowSplit;
using amx_panels::RowRange;
using amx_panels::thread_rows;

class AmxInt8Matmul final : public BlockInt8Matmul {
 public:
  // AMX-INT8 usable here (amx::usable).
  static bool available();
  // Shapes the tiles cover (n is padded to whole 32-column panels).
  static bool supports(int64_t n, int64_t k) { return n > 0 && k > 0 && k % 64 == 0; }

  // weight_nk: n rows of k s8 values (row-major); copied into tile order.
  AmxInt8Matmul(const int8_t* weight_nk, int64_t n, int64_t k);

  // Multiplies q [m, k] (u8, row stride q_stride; rows may overlap) by the
  // weights. Each block goes to block_done on the thread that computed it;
  // once every block of a row is done, row_done (optional) sees the row's
  // index, on one of the threads (with 64+ rows per thread, the thread that
  // computed the row). Not re-entrant from inside the callbacks.
  void run(const uint8_t* q, int64_t m, int64_t q_stride, AccumulatorSink block_done,
           RowIndexSink row_done = {}) const override;

  // Rows [first_row, first_row + m) of the product on the calling thread
  // alone (q points at row first_row; block_done sees absolute rows), then
  // row_done (optional) for each of them: for callers that split the rows
  // between threads themselves (the convolution's frame blocks, the
  // transformer's row shares); every block is done when it returns.
  void run_rows_on_this_thread(const uint8_t* q, int64_t m, int64_t q_stride, int64_t first_row,
                               AccumulatorSink block_done,
                               RowIndexSink row_done = {}) const override;

  // All of the product on this thread without packing the rows: the tiles
  // are loaded from q itself (rows q_stride bytes apart, overlapping or not),
  // so every byte up to q + (m rounded up to 32 - 1) * q_stride + k must be
  // readable (the rows past m give sums nobody receives). For grouped convs
  // whose windows are contiguous in a group-major copy of the input.
  std::string name() const override { return "quasr:amx_int8"; }

  void run_direct_rows_on_this_thread(const uint8_t* q, int64_t m, int64_t q_stride,
                                      AccumulatorSink block_done) const;

 private:
  amx_panels::Panels panels() const;
  int64_t n_;
  int64_t k_;
  int64_t panels_;  // n rounded up to whole panels
  WeightMemory weights_;
};

}  // namespace quasr::kernels::int8_detail
