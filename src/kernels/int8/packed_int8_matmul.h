// Internal building blocks of the int8 Linear kernels: a u8 × s8 matmul on
// oneDNN with weights packed once, and the per-thread scratch buffers.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/cpu_features.h"
#include "core/tensor.h"
#include "kernels/weight_memory.h"
#include "quant/quant_math.h"

namespace quasr::kernels::int8_detail {

// dst[m, n] = attr(q[m, k] · Wᵀ (+ bias)) with q u8 and W s8 [n, k]. The
// attributes (constant output scales, post-ops) are fixed at construction:
// oneDNN 2.6 falls back from its AMX/VNNI brgemm kernels to a slow GEMM as
// soon as output scales are run-time values, so dynamic quantization asks for
// s32 and dequantizes in its own epilogue instead.
class PackedInt8Matmul {
 public:
  PackedInt8Matmul(const int8_t* weight_nk, int64_t n, int64_t k, dnnl::memory::data_type dst_type,
                   const dnnl::primitive_attr& attr, const float* bias);

  // Same weights (shared, not copied: packed memory is reference counted),
  // another output type, attributes and bias.
  PackedInt8Matmul(const PackedInt8Matmul& weights_from, dnnl::memory::data_type dst_type,
                   const dnnl::primitive_attr& attr, const float* bias);

  // y has row stride y_stride elements of dst_type. Safe to call from several
  // threads at once (per-thread scratchpad).
  void run(const uint8_t* q, int64_t m, int64_t q_stride, void* y, int64_t y_stride) const;
  // Name of the oneDNN implementation chosen for m rows (for benchmarks).
  std::string implementation(int64_t m) const;

 private:
  struct Prepared {
    dnnl::matmul primitive;
    dnnl::memory weights;
    dnnl::memory::desc scratchpad;
  };
  using Key = std::tuple<int64_t, int64_t, int64_t>;
  dnnl::matmul::primitive_desc make_pd(int64_t m, int64_t q_stride, int64_t y_stride) const;
  Prepared prepared_for(int64_t m, int64_t q_stride, int64_t y_stride) const;

  int64_t n_;
  int64_t k_;
  dnnl::memory::data_type dst_type_;
  dnnl::primitive_attr attr_;
  bool has_bias_;
  WeightMemory weights_;
  dnnl::memory bias_;
  mutable std::mutex mutex_;
  mutable std::map<Key, Prepared> prepared_;
};

// True when u8 × s8 products may use all 8 activation bits: both quasr's ISA
// level (QUASR_ISA) and the ISA oneDNN will run (DNNL_MAX_CPU_ISA) have VNNI
// or AMX. Otherwise oneDNN's kernels go through VPMADDUBSW, whose int16 pair
// sums saturate, and activations must be kept to 7 bits.
bool full_range_activations();

// Buffers each calling thread reuses across runs; they only grow, so the
// steady state allocates nothing.
struct Scratch {
  std::vector<uint8_t> q;
  std::vector<quant::QuantParams> params;
  std::vector<float> mins;
  std::vector<float> maxs;
};
Scratch& thread_scratch();

using quasr::grow;

}  // namespace quasr::kernels::int8_detail
