// 1-D convolution on oneDNN's convolution primitive, time-major layout.
//
// Layouts: input x is [t_in, c_in] row-major (one frame per row, "nwc" in
// oneDNN terms), output y is [t_out, c_out] row-major, with
// t_out = (t_in + 2*padding - kernel) / stride + 1. Weights are given once in
// PyTorch's nn.Conv1d layout [c_out, c_in/groups, kernel] and reordered into
// the blocked layout oneDNN wants for this CPU. Time-major activations let the
// convolutions, LayerNorms and linears share one layout with no transposes.
//
// Thread safety: run() may be called from several threads.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/weight_memory.h"

#include "kernels/packed_matmul.h"

namespace quasr::kernels {

struct Conv1dShape {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel = 0;
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t groups = 1;

  int64_t output_length(int64_t input_length) const {
    int64_t span = input_length + 2 * padding - kernel;
    return span < 0 ? 0 : span / stride + 1;
  }
};

// Convolutions run their output frames in power-of-two blocks so that a
// handful of oneDNN primitive shapes serve every utterance length (oneDNN
// JIT-compiles one kernel per shape). Calls block(first, frames) for blocks of
// kLargestConvBlock..kSmallestConvBlock frames, then tail(first, frames) once
// for fewer than kSmallestConvBlock remaining frames, if any.
constexpr int64_t kLargestConvBlock = 1024;
constexpr int64_t kSmallestConvBlock = 16;
template <typename Block, typename Tail>
void for_each_output_block(int64_t t_out, Block&& block, Tail&& tail) {
  int64_t done = 0;
  while (t_out - done >= kSmallestConvBlock) {
    int64_t frames = kLargestConvBlock;
    while (frames > t_out - done) frames /= 2;
    block(done, frames);
    done += frames;
  }
  if (done < t_out) tail(done, t_out - done);
}

class PackedConv1dF32 {
 public:
  // bias may be null.
  PackedConv1dF32(const Conv1dShape& shape, const float* weight, const float* bias,
                  Activation activation);

  // y must hold output_length(t_in) * out_channels floats.
  void run(const float* x, int64_t t_in, float* y) const;

  const Conv1dShape& shape() const { return shape_; }

 private:
  struct Prepared {
    dnnl::convolution_forward primitive;
    dnnl::memory weights;  // weights_ itself, or a reorder of it this length needs
  };
  int64_t block_input_length(int64_t frames_out) const {
    return (frames_out - 1) * shape_.stride + shape_.kernel;
  }
  dnnl::memory::desc weights_desc_any() const;
  dnnl::convolution_forward::primitive_desc make_pd(int64_t frames_out,
                                                    const dnnl::memory::desc& weights) const;
  Prepared prepared_for(int64_t frames_out) const;
  void run_block(const float* x, int64_t frames_out, float* y) const;

  Conv1dShape shape_;
  Activation activation_;
  bool has_bias_;
  WeightMemory weights_;
  dnnl::memory bias_;
  mutable std::mutex mutex_;
  mutable std::map<int64_t, Prepared> prepared_;
};

}  // namespace quasr::kernels
