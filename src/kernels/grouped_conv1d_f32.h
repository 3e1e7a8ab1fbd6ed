// Grouped stride-1 fp32 convolution (wav2vec2's positional conv: 16 groups of
// 48 or 64 channels, kernel 128, padding 64) on an AVX-512 register-blocked
// kernel, time-major layouts as PackedConv1dF32.
//
// oneDNN 2.6's f32 grouped convolution runs this shape at 60-100 GMAC/s on
// the project's 2-core machines; the tutorial recipe keeps the positional conv
// in fp32, where it took 9-15 % of a quantized base model's forward. Here
// each group is a GEMM whose "rows" are output frames and whose depth is
// (tap, input channel): a tile of up to 12 frames × one group's output
// channels (at most 64: four zmm per frame) stays in registers while a chunk
// of taps (weights ≤ 32 KiB, so in L1) streams past; the input rows a tile
// needs are the same few rows shifted by one per tap, so they stay in L1 too.
// No im2col copy is made.
//
// Supported: stride 1, out_channels / groups ≤ 64, an AVX-512 CPU
// (supports() says; make_f32_conv falls back to oneDNN otherwise).
// Thread safety: run() may be called from several threads.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "kernels/packed_conv1d.h"

namespace quasr::kernels {

class GroupedConv1dF32 {
 public:
  static bool supports(const Conv1dShape& shape);

  // weight: PyTorch's [c_out, c_in / groups, kernel]; bias (c_out) may be null.
  GroupedConv1dF32(const Conv1dShape& shape, const float* weight, const float* bias,
                   Activation activation);

  // y must hold output_length(t_in) * out_channels floats.
  void run(const float* x, int64_t t_in, float* y) const;

  const Conv1dShape& shape() const { return shape_; }

 private:
  Conv1dShape shape_;
  Activation activation_;
  int64_t in_per_group_;
  int64_t out_per_group_;
  int64_t vectors_;       // zmm per output frame of one group: ceil(out_per_group / 16)
  int64_t tap_chunk_;     // taps whose weights are reused from L1 across all frames
  AlignedBuffer packed_;  // [group][tap][in channel][vectors * 16 out channels]
  AlignedBuffer bias_;    // [group][vectors * 16], zeros past out_per_group
};

}  // namespace quasr::kernels
