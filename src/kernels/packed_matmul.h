// Fully connected layer y = act(x · Wᵀ + b) on oneDNN's matmul primitive.
//
// Layouts: x is [m, k] row-major with a row stride (>= k), y is [m, n]
// row-major with a row stride (>= n). W is given once, in PyTorch's nn.Linear
// layout [n, k], and reordered at construction into the blocked layout the
// oneDNN kernel for this CPU wants, so the hot path never repacks weights.
// Primitives are created per (m, strides) and cached; the number of distinct
// m values is the number of distinct utterance lengths seen.
//
// Thread safety: run() may be called from several threads at once (each
// brings its own scratchpad).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/weight_memory.h"

namespace quasr::kernels {

enum class Activation { kNone, kGelu };

class PackedMatmulF32 {
 public:
  // bias may be null.
  PackedMatmulF32(const float* weight_nk, const float* bias, int64_t n, int64_t k,
                  Activation activation);

  void run(const float* x, int64_t m, int64_t x_row_stride, float* y, int64_t y_row_stride) const;
  void run(const float* x, int64_t m, float* y) const { run(x, m, k_, y, n_); }

  int64_t in_features() const { return k_; }
  int64_t out_features() const { return n_; }

 private:
  using Key = std::tuple<int64_t, int64_t, int64_t>;
  struct Prepared {
    dnnl::matmul primitive;
    dnnl::memory::desc scratchpad;
  };
  Prepared primitive_for(int64_t m, int64_t x_row_stride, int64_t y_row_stride) const;

  int64_t n_;
  int64_t k_;
  Activation activation_;
  bool has_bias_;
  dnnl::memory::desc weights_desc_;
  WeightMemory weights_;
  dnnl::memory bias_;
  mutable std::mutex mutex_;
  mutable std::map<Key, Prepared> primitives_;
};

// Builds the attributes for an optional fused activation (shared with conv).
dnnl::primitive_attr activation_attr(Activation activation);

}  // namespace quasr::kernels
