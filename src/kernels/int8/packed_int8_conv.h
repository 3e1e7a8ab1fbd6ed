// Internal: a time-major u8 × s8 1-D convolution on oneDNN with weights packed
// once (the conv counterpart of PackedInt8Matmul). Attributes are fixed at
// construction. The callers pad the quantized input themselves (rows of the
// zero point) and build this with padding 0: oneDNN's source zero point with
// padding is wrong in its AVX2 depthwise kernel (oneDNN 2.6), and without it
// the zero-point term folds into the bias or the epilogue like a Linear's.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/weight_memory.h"

#include "kernels/packed_conv1d.h"

namespace quasr::kernels::int8_detail {

class PackedInt8Conv {
 public:
  // weight: PyTorch's [c_out, c_in/groups, kernel] s8; bias (c_out floats,
  // in accumulator units: oneDNN adds it before the output scales) may be null.
  PackedInt8Conv(const Conv1dShape& shape, const int8_t* weight, dnnl::memory::data_type dst_type,
                 const dnnl::primitive_attr& attr, const float* bias);

  // q: [t_in, c_in] u8; y: [t_out, c_out] of dst_type.
  void run(const uint8_t* q, int64_t t_in, void* y) const;
  std::string implementation(int64_t t_in) const;

 private:
  struct Prepared {
    dnnl::convolution_forward primitive;
    dnnl::memory weights;
  };
  dnnl::memory::desc weights_desc(dnnl::memory::format_tag format) const;
  dnnl::convolution_forward::primitive_desc make_pd(int64_t t_in) const;
  Prepared prepared_for(int64_t t_in) const;
  void run_block(const uint8_t* q, int64_t frames_out, void* y) const;

  Conv1dShape shape_;
  dnnl::memory::data_type dst_type_;
  dnnl::primitive_attr attr_;
  bool has_bias_;
  WeightMemory weights_;
  dnnl::memory bias_;
  mutable std::mutex mutex_;
  mutable std::map<int64_t, Prepared> prepared_;
};

}  // namespace quasr::kernels::int8_detail
