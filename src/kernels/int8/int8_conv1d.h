// Int8 1-D convolution, time-major, same layout and semantics as
// PackedConv1dF32: x [t_in, c_in], y [t_out, c_out] f32, groups, stride and
// zero padding. Weights are s8 symmetric per output channel (or per tensor)
// as an Int8Weights of shape [c_out, c_in/groups * kernel] (PyTorch's
// [c_out, c_in/groups, kernel] weight flattened), the input u8 with a scale
// and zero point fixed at construction (from calibration).
//
// Runs on oneDNN's int8 convolution (nwc), with dequantization, bias and the
// optional GELU fused: constant per-channel output scales, and the
// zero-point term folded into the bias when there is no padding, or given to
// oneDNN as the source zero point when there is (padded positions then hold
// the real value 0, as in fp32).
//
// Thread safety: run() may be called from several threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/cpu_features.h"
#include "kernels/int8/int8_weights.h"
#include "kernels/packed_conv1d.h"
#include "quant/quant_math.h"

namespace quasr::kernels {

class StaticInt8Conv1d {
 public:
  // weights: rows = out_channels, cols = in_channels / groups * kernel.
  // bias (out_channels floats) may be null. Throws quasr::Error on a shape
  // mismatch or invalid input parameters.
  StaticInt8Conv1d(const Conv1dShape& shape, const Int8Weights& weights, const float* bias,
                   Activation activation, quant::QuantParams input,
                   quant::QuantRange range = quant::u8_range(false));

  // y must hold shape().output_length(t_in) * out_channels floats.
  void run(const float* x, int64_t t_in, float* y) const;

  const Conv1dShape& shape() const { return shape_; }
  quant::QuantParams input_params() const { return input_; }
  quant::QuantRange input_range() const { return range_; }
  std::string implementation(int64_t t_in) const;

 private:
  struct Prepared {
    dnnl::convolution_forward primitive;
    dnnl::memory weights;
  };
  dnnl::memory::desc weights_desc(dnnl::memory::format_tag tag) const;
  dnnl::convolution_forward::primitive_desc make_pd(int64_t t_in) const;
  Prepared prepared_for(int64_t t_in) const;

  Conv1dShape shape_;
  Activation activation_;
  quant::QuantParams input_;
  quant::QuantRange range_;
  IsaLevel isa_;
  dnnl::primitive_attr attr_;
  bool has_bias_ = false;
  dnnl::memory weights_;
  dnnl::memory bias_;
  std::vector<float> reference_bias_;
  std::unique_ptr<Int8Weights> reference_weights_;
  mutable std::mutex mutex_;
  mutable std::map<int64_t, Prepared> prepared_;
};

}  // namespace quasr::kernels
