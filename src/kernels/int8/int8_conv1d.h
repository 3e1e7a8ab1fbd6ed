// Int8 1-D convolutions, time-major, same layout and semantics as
// PackedConv1dF32: x [t_in, c_in], y [t_out, c_out] f32, groups, stride and
// zero padding. Weights are s8 symmetric per output channel (or per tensor)
// as an Int8Weights of shape [c_out, c_in/groups * kernel] (PyTorch's
// [c_out, c_in/groups, kernel] weight flattened); the input is u8 with a
// zero point. Padded positions hold the real value 0, as in fp32.
//
// Both run on oneDNN's int8 convolution (nwc) with weights packed once (one
// input channel, static: integer sums in float, single_channel_conv1d.h; grouped
// convolutions: one packed GEMM per group over im2col blocks, int32 out and
// the Linear epilogue, see grouped_int8_conv.h); the
// quantized input is padded explicitly with zero-point rows, so the
// zero-point term is the same at every output and needs no oneDNN support:
//  * StaticInt8Conv1d: input scale and zero point fixed at construction
//    (calibration); dequantization, bias and GELU fused in oneDNN (constant
//    per-channel output scales, the zero-point term folded into the bias).
//  * DynamicInt8Conv1d: one scale and zero point per call from the input's
//    min and max (choose_dynamic_fbgemm); int32 output dequantized by the
//    same epilogue as DynamicInt8Linear.
// ISA notes as in int8_linear.h (QUASR_ISA=ref: scalar reference; 7-bit
// activations without VNNI).
//
// Thread safety: run() may be called from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "kernels/int8/int8_weights.h"
#include "kernels/packed_conv1d.h"
#include "kernels/row_sink.h"
#include "quant/quant_math.h"

namespace quasr::kernels {

class SingleChannelConv1d;

namespace int8_detail {
class PackedInt8Conv;
class GroupedInt8Conv;
}  // namespace int8_detail

class StaticInt8Conv1d {
 public:
  // weights: rows = out_channels, cols = in_channels / groups * kernel.
  // bias (out_channels floats) may be null. Throws quasr::Error on a shape
  // mismatch or invalid input parameters.
  StaticInt8Conv1d(const Conv1dShape& shape, const Int8Weights& weights, const float* bias,
                   Activation activation, quant::QuantParams input,
                   quant::QuantRange range = quant::u8_range(false));
  ~StaticInt8Conv1d();

  // y must hold shape().output_length(t_in) * out_channels floats. row_done
  // (optional) sees each output frame once it is finished. Where
  // rows_without_output(), y may be null when row_done is given: each frame
  // then lives in a per-thread buffer only until row_done returns.
  void run(const float* x, int64_t t_in, float* y, RowSink row_done = {}) const;

  // Whether run_quantized can be used: one group, no padding, not the
  // waveform conv, not the reference ISA (the extractor's 512 -> 512 convs).
  bool takes_quantized_rows() const;
  // One input frame (in_channels floats) quantized as run() quantizes it, for
  // a producer that has the frame in cache (the previous conv's epilogue).
  void quantize_row(const float* x, uint8_t* q) const;
  // run() on input frames already quantized by quantize_row (q [t_in,
  // in_channels]); row_done sees each output frame once it is finished.
  void run_quantized(const uint8_t* q, int64_t t_in, float* y, RowSink row_done = {}) const;
  // Whether run (and run_quantized) take a null y with a row_done.
  bool rows_without_output() const { return single_channel_ || takes_quantized_rows(); }

  // Whether run and run_quantized may be called from several threads at
  // once inside one parallel region (quasr's own kernels, not oneDNN's).
  bool runs_concurrently() const;
  const Conv1dShape& shape() const { return shape_; }
  quant::QuantParams input_params() const { return input_; }
  quant::QuantRange input_range() const { return range_; }
  std::string implementation(int64_t t_in) const;

 private:
  Conv1dShape shape_;
  Activation activation_;
  quant::QuantParams input_;
  quant::QuantRange range_;
  IsaLevel isa_;
  std::unique_ptr<int8_detail::PackedInt8Conv> conv_;
  std::unique_ptr<int8_detail::GroupedInt8Conv> grouped_;
  std::unique_ptr<SingleChannelConv1d> single_channel_;  // the waveform conv, exact in float
  std::vector<float> w_scales_;                          // grouped path's epilogue
  std::vector<int32_t> w_sums_;
  std::vector<float> bias_;
  std::unique_ptr<Int8Weights> reference_weights_;  // QUASR_ISA=ref only
};

class DynamicInt8Conv1d {
 public:
  // reduce_range: 7-bit activations (forced on without VNNI).
  DynamicInt8Conv1d(const Conv1dShape& shape, const Int8Weights& weights, const float* bias,
                    Activation activation, bool reduce_range = false);
  ~DynamicInt8Conv1d();

  void run(const float* x, int64_t t_in, float* y) const;

  const Conv1dShape& shape() const { return shape_; }
  quant::QuantRange activation_range() const { return range_; }
  std::string implementation(int64_t t_in) const;

 private:
  Conv1dShape shape_;
  Activation activation_;
  quant::QuantRange range_;
  IsaLevel isa_;
  std::vector<float> w_scales_;
  std::vector<int32_t> w_sums_;
  std::vector<float> bias_;
  std::unique_ptr<int8_detail::PackedInt8Conv> conv_;  // s32 output
  std::unique_ptr<int8_detail::GroupedInt8Conv> grouped_;
  std::unique_ptr<Int8Weights> reference_weights_;
};

}  // namespace quasr::kernels
