// Internal: a time-major u8 × s8 1-D convolution as one GEMM per group and
// block of output frames, on the same packed oneDNN matmul as the Linears
// (AMX / VNNI brgemm). Used for wav2vec2's positional conv (16 groups of 64
// or 48 channels, kernel 128: oneDNN 2.6 has no int8 convolution for groups
// this small) and for the extractor's 512 -> 512 convs (one group, kernel
// 3 or 2, stride 2), where it runs ~2.5x the rate of oneDNN's int8 brgconv
// with fused output scales and GELU (206 GMAC/s here, single thread).
//
// For output frame t and group g the GEMM row is the window of the input
// q[t*stride .. t*stride + kernel), channels of g, kernel-major (im2col, built
// per block in a per-thread buffer that fits L2); the weight row of output
// channel o is w[o, :, :] transposed to the same order. Each block's int32
// sums are dequantized into y while they are still in cache (a separate pass
// over the whole output moved each value three more times).
//
// With one group (the extractor convs), quasr's block kernel for this CPU
// (AMX, or AVX2 without VNNI: block_int8_matmul.h) runs the product instead,
// with no im2col copy at all: frame t's window is
// q[t * stride * c_in, + kernel * c_in) in memory already, so the GEMM rows
// are q itself with a row stride of stride * c_in (overlapping rows).
//
// With several groups of whole 64-channel steps and stride 1 (large's
// positional conv: 16 groups of 64, kernel 128), the input is copied
// group-major, where frame t's window in group g is cig * kernel contiguous
// bytes; each group is then one AMX product whose row tiles are loaded from
// that copy directly (run_amx_groups).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/int8/amx_int8_matmul.h"
#include "kernels/int8/block_int8_matmul.h"
#include "kernels/int8/epilogue.h"
#include "kernels/int8/packed_int8_matmul.h"
#include "kernels/packed_conv1d.h"
#include "kernels/row_sink.h"

namespace quasr::kernels::int8_detail {

class GroupedInt8Conv {
 public:
  // shape.padding must be 0 (callers pad with zero-point rows);
  // weight: PyTorch's [c_out, c_in/groups, kernel] s8.
  GroupedInt8Conv(const Conv1dShape& shape, const int8_t* weight);

  // q: [t_in, c_in] u8 → y: [t_out, c_out] floats, the int32 sums Σ q·w
  // through `epilogue` (its per-channel arrays hold c_out values).
  // row_done (one group only: rows are whole there) sees each output frame
  // once it is dequantized. With row_done, y may be null: each frame then
  // lives in a per-thread buffer only until row_done returns.
  void run(const uint8_t* q, int64_t t_in, const EpilogueRow& epilogue, IsaLevel isa, float* y,
           RowSink row_done = {}) const;
  std::string implementation() const;
  // Whether every group runs on quasr's own kernels (no oneDNN primitive).
  bool on_own_kernels() const { return block_ || !amx_groups_.empty(); }

 private:
  // Output frames [first, first + frames) of one group; y_block holds the
  // block's frames (frame first at its start).
  void run_block(const uint8_t* q, int64_t group, int64_t first, int64_t frames,
                 const EpilogueRow& epilogue, IsaLevel isa, float* y_block, RowSink row_done) const;
  void run_block_in_place(const uint8_t* q, int64_t first, int64_t frames,
                          const EpilogueRow& epilogue, IsaLevel isa, float* y_block,
                          RowSink row_done) const;
  void run_amx_groups(const uint8_t* q, int64_t t_in, const EpilogueRow& epilogue, IsaLevel isa,
                      float* y) const;

  Conv1dShape shape_;
  int64_t window_;                                         // GEMM depth: (c_in / groups) * kernel
  int64_t frame_block_;                                    // GEMM rows
  std::vector<std::unique_ptr<PackedInt8Matmul>> groups_;  // or, one group:
  std::unique_ptr<BlockInt8Matmul> block_;
  std::vector<std::unique_ptr<AmxInt8Matmul>> amx_groups_;  // or, one per group on AMX
};

}  // namespace quasr::kernels::int8_detail
