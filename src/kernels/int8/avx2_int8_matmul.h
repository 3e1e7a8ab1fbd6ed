// u8 x s8 -> s32 matmul on AVX2 (VPMADDUBSW, VPMADDWD), for CPUs without
// VNNI: the dynamic int8 Linear's product, its int32 sums handed to the
// dequantizing epilogue 32 x 32 at a time while they are in L1.
//
// Why not oneDNN: on the project's AVX2-only machine (AMD EPYC, Zen 3)
// oneDNN 2.6's AVX2 int8 GEMM ran 120-150 GMAC/s on two cores at the large
// model's shapes (quasr_gemm_bench BM_OneDnnU8S8S32, M 300/1500) and writes
// the whole int32 result to memory for quasr's epilogue to read back; this
// kernel runs 150-175 there (BM_Avx2U8S8S32; a loop of just these
// instructions does ~190) and hands over 32 x 32 blocks from L1. The weights
// are packed once into 16-column panels of 4-byte groups (one 32-byte load is
// 8 columns x 4 values of k); a micro-kernel keeps 4 rows x 16 columns of
// sums in registers, broadcasting 4 bytes of each row per step, so a panel
// is read from L1 by every 4 rows of a 32-row block.
//
// Exactness: VPMADDUBSW adds two u8 x s8 products in int16 with saturation.
// With activations of 7 bits (0..127, what quasr uses without VNNI) a pair
// is at most 2 x 127 x 128 = 32512 in magnitude, so the sums are exact: the
// same int32 values as oneDNN's and the same output bits.
#pragma once

#include <cstdint>

#include "kernels/int8/block_int8_matmul.h"
#include "kernels/weight_memory.h"

namespace quasr::kernels::int8_detail {

class Avx2Int8Matmul final : public BlockInt8Matmul {
 public:
  // The CPU has AVX2.
  static bool available();
  // Shapes the kernel covers (n is padded to whole 32-column blocks).
  static bool supports(int64_t n, int64_t k) { return n > 0 && k > 0 && k % 4 == 0; }

  // weight_nk: n rows of k s8 values (row-major); copied into panel order.
  Avx2Int8Matmul(const int8_t* weight_nk, int64_t n, int64_t k);

  // q must hold 7-bit values (0..127) for exact sums (see above).
  void run(const uint8_t* q, int64_t m, int64_t q_stride, AccumulatorSink block_done,
           RowIndexSink row_done = {}) const override;
  void run_rows_on_this_thread(const uint8_t* q, int64_t m, int64_t q_stride, int64_t first_row,
                               AccumulatorSink block_done,
                               RowIndexSink row_done = {}) const override;
  std::string name() const override { return "quasr:avx2_int8"; }

 private:
  // Rows [0, rows) of q times column blocks [first_block, last_block).
  void multiply_blocks(const uint8_t* q, int64_t rows, int64_t q_stride, int64_t first_row,
                       int64_t first_block, int64_t last_block, AccumulatorSink block_done) const;

  int64_t n_;
  int64_t k_;
  int64_t blocks_;  // 32-column blocks (two 16-column panels each)
  WeightMemory weights_;
};

}  // namespace quasr::kernels::int8_detail
