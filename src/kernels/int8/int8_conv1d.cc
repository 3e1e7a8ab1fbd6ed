#include "kernels/int8/int8_conv1d.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernels/int8/epilogue.h"
#include "kernels/int8/grouped_int8_conv.h"
#include "kernels/int8/int8_linear.h"
#include "kernels/int8/packed_int8_conv.h"
#include "kernels/int8/packed_int8_matmul.h"
#include "kernels/int8/reference.h"
#include "kernels/int8/row_quantize.h"
#include "kernels/single_channel_conv1d.h"

namespace quasr::kernels {

using dt = dnnl::memory::data_type;

namespace {

constexpr int64_t kBlock = 1 << 14;  // floats per parallel quantization chunk

void check_shape(const Conv1dShape& s, const Int8Weights& weights, const char* what) {
  if (s.groups <= 0 || s.in_channels <= 0 || s.in_channels % s.groups ||
      s.out_channels % s.groups || s.kernel <= 0 || s.stride <= 0 || s.padding < 0) {
    throw Error(std::string(what) + ": invalid shape (in " + std::to_string(s.in_channels) +
                ", out " + std::to_string(s.out_channels) + ", kernel " + std::to_string(s.kernel) +
                ", groups " + std::to_string(s.groups) + ")");
  }
  const int64_t cols = s.in_channels / s.groups * s.kernel;
  if (weights.rows() != s.out_channels || weights.cols() != cols) {
    throw Error(std::string(what) + ": weights are [" + std::to_string(weights.rows()) + ", " +
                std::to_string(weights.cols()) + "], expected [" + std::to_string(s.out_channels) +
                ", " + std::to_string(cols) + "]");
  }
}

std::unique_ptr<Int8Weights> reference_copy(const Int8Weights& w) {
  return std::make_unique<Int8Weights>(Int8Weights::copy(
      w.data(), w.rows(), w.cols(), w.scales().data(), static_cast<int64_t>(w.scales().size())));
}

// Quantizes x [t_in, c_in] into q [t_in + 2 pad, c_in], the pad rows holding
// the zero point (the real value 0), so the convolution runs unpadded.
void quantize_padded(const float* x, int64_t t_in, const Conv1dShape& s, quant::QuantParams p,
                     quant::QuantRange range, uint8_t* q, IsaLevel isa) {
  const int64_t pad = s.padding * s.in_channels, total = t_in * s.in_channels;
  std::memset(q, p.zero_point, static_cast<size_t>(pad));
  std::memset(q + pad + total, p.zero_point, static_cast<size_t>(pad));
  const float inv = quant::inverse_scale(p.scale);
  uint8_t* body = q + pad;
#pragma omp parallel for schedule(static) if (total >= 2 * kBlock)
  for (int64_t start = 0; start < total; start += kBlock) {
    int8_detail::quantize_row_u8(x + start, std::min(kBlock, total - start), inv, p.zero_point,
                                 range, body + start, isa);
  }
}

Conv1dShape unpadded(Conv1dShape s) {
  s.padding = 0;
  return s;
}

// y holds [t_out, n] int32 sums on entry and the float outputs on return.
void dequantize_rows(float* y, int64_t t_out, int64_t n, const int8_detail::EpilogueRow& row,
                     IsaLevel isa) {
#pragma omp parallel for schedule(static) if (t_out * n >= (1 << 12))
  for (int64_t t = 0; t < t_out; ++t) int8_detail::dequantize_row_in_place(y + t * n, n, row, isa);
}

int8_detail::EpilogueRow epilogue_row(quant::QuantParams input, const std::vector<float>& w_scales,
                                      const std::vector<int32_t>& w_sums, const float* bias,
                                      Activation activation) {
  int8_detail::EpilogueRow row;
  row.x_scale = input.scale;
  row.x_zero_point = input.zero_point;
  row.w_scales = w_scales.data();
  row.w_sums = w_sums.data();
  row.bias = bias;
  row.activation = activation;
  return row;
}

std::vector<float> weight_scales(const Int8Weights& weights) {
  std::vector<float> scales(static_cast<size_t>(weights.rows()));
  for (int64_t j = 0; j < weights.rows(); ++j) scales[j] = weights.scale(j);
  return scales;
}

}  // namespace

// ----------------------------------------------------------------- static

StaticInt8Conv1d::StaticInt8Conv1d(const Conv1dShape& shape, const Int8Weights& weights,
                                   const float* bias, Activation activation,
                                   quant::QuantParams input, quant::QuantRange range)
    : shape_(shape), activation_(activation), input_(input), range_(range), isa_(isa_level()) {
  const Conv1dShape& s = shape_;
  check_shape(s, weights, "StaticInt8Conv1d");
  check_static_input(input, range, "StaticInt8Conv1d");
  if (isa_ != IsaLevel::kRef && !int8_detail::full_range_activations() && range_.qmax > 127) {
    // 7 bits where VPMADDUBSW could saturate (see int8_linear.h).
    float factor = static_cast<float>(range_.qmax - range_.qmin) / 127.0f;
    input_.scale *= factor;
    input_.zero_point = static_cast<int32_t>(std::nearbyint(input_.zero_point / factor));
    range_ = quant::u8_range(true);
  }
  if (isa_ == IsaLevel::kRef) {
    if (bias) bias_.assign(bias, bias + s.out_channels);
    reference_weights_ = reference_copy(weights);
    return;
  }
  if (s.in_channels == 1 && s.groups == 1 && s.padding == 0) {
    std::vector<float> w_float(weights.data(), weights.data() + s.out_channels * s.kernel);
    std::vector<float> scales = weight_scales(weights);
    for (float& scale : scales) scale *= input_.scale;
    single_channel_ = std::make_unique<SingleChannelConv1d>(
        s.out_channels, s.kernel, s.stride, w_float.data(), scales.data(), bias, activation);
    return;
  }
  if (s.groups > 1 || s.in_channels > 1) {
    if (bias) bias_.assign(bias, bias + s.out_channels);
    w_scales_ = weight_scales(weights);
    w_sums_ = weights.row_sums();
    grouped_ = std::make_unique<int8_detail::GroupedInt8Conv>(unpadded(s), weights.data());
    return;
  }
  std::vector<float> scales(static_cast<size_t>(s.out_channels));
  std::vector<float> folded(static_cast<size_t>(s.out_channels));
  for (int64_t oc = 0; oc < s.out_channels; ++oc) {
    // In accumulator units: oneDNN adds the bias before the output scale.
    // Padding is explicit (zero-point rows), so every output sees the full
    // zero-point term.
    scales[oc] = input_.scale * weights.scale(oc);
    folded[oc] = (bias ? bias[oc] / scales[oc] : 0.0f) -
                 static_cast<float>(input_.zero_point) * static_cast<float>(weights.row_sums()[oc]);
  }
  dnnl::primitive_attr attr = activation_attr(activation);
  attr.set_output_scales(2, scales);
  conv_ = std::make_unique<int8_detail::PackedInt8Conv>(unpadded(s), weights.data(), dt::f32, attr,
                                                        folded.data());
}

StaticInt8Conv1d::~StaticInt8Conv1d() = default;

std::string StaticInt8Conv1d::implementation(int64_t t_in) const {
  if (single_channel_) return "single-channel direct";
  if (grouped_) return grouped_->implementation();
  return conv_ ? conv_->implementation(t_in + 2 * shape_.padding) : "ref";
}

void StaticInt8Conv1d::run(const float* x, int64_t t_in, float* y, RowSink row_done) const {
  const Conv1dShape& s = shape_;
  const int64_t t_out = s.output_length(t_in);
  if (t_out == 0) return;
  if (!y && !(row_done && rows_without_output()))
    throw Error("StaticInt8Conv1d::run: no output array for this convolution");
  if (reference_weights_) {
    int8_ref::static_conv1d(x, t_in, s, input_, range_, *reference_weights_,
                            bias_.empty() ? nullptr : bias_.data(), activation_, y);
    return hand_rows(row_done, y, t_out, s.out_channels);
  }
  const int64_t t_padded = t_in + 2 * s.padding;
  uint8_t* q = int8_detail::grow(int8_detail::thread_scratch().q, t_padded * s.in_channels);
  quantize_padded(x, t_in, s, input_, range_, q, isa_);
  if (single_channel_) {
    thread_local std::vector<float> centred;
    float* values = int8_detail::grow(centred, t_padded);
    for (int64_t i = 0; i < t_padded; ++i)
      values[i] = static_cast<float>(static_cast<int32_t>(q[i]) - input_.zero_point);
    single_channel_->run(values, t_padded, y, row_done);
    return;
  }
  if (!grouped_) {
    conv_->run(q, t_padded, y);
    return hand_rows(row_done, y, t_out, s.out_channels);
  }
  const float* bias = bias_.empty() ? nullptr : bias_.data();
  const bool whole_rows = s.groups == 1;  // only then does the epilogue finish frames
  grouped_->run(q, t_padded, epilogue_row(input_, w_scales_, w_sums_, bias, activation_), isa_, y,
                whole_rows ? row_done : RowSink());
  if (!whole_rows) hand_rows(row_done, y, t_out, s.out_channels);
}

bool StaticInt8Conv1d::runs_concurrently() const {
  return single_channel_ || (grouped_ && grouped_->on_own_kernels());
}

bool StaticInt8Conv1d::takes_quantized_rows() const {
  return grouped_ && shape_.groups == 1 && shape_.padding == 0;
}

void StaticInt8Conv1d::quantize_row(const float* x, uint8_t* q) const {
  int8_detail::quantize_row_u8(x, shape_.in_channels, quant::inverse_scale(input_.scale),
                               input_.zero_point, range_, q, isa_);
}

void StaticInt8Conv1d::run_quantized(const uint8_t* q, int64_t t_in, float* y,
                                     RowSink row_done) const {
  if (!takes_quantized_rows())
    throw Error("StaticInt8Conv1d::run_quantized: not available for this convolution");
  if (shape_.output_length(t_in) <= 0) return;
  const float* bias = bias_.empty() ? nullptr : bias_.data();
  grouped_->run(q, t_in, epilogue_row(input_, w_scales_, w_sums_, bias, activation_), isa_, y,
                row_done);
}

// ---------------------------------------------------------------- dynamic

DynamicInt8Conv1d::DynamicInt8Conv1d(const Conv1dShape& shape, const Int8Weights& weights,
                                     const float* bias, Activation activation, bool reduce_range)
    : shape_(shape), activation_(activation), isa_(isa_level()) {
  check_shape(shape_, weights, "DynamicInt8Conv1d");
  if (isa_ != IsaLevel::kRef && !int8_detail::full_range_activations()) reduce_range = true;
  range_ = quant::u8_range(reduce_range);
  w_scales_ = weight_scales(weights);
  w_sums_ = weights.row_sums();
  if (bias) bias_.assign(bias, bias + shape_.out_channels);
  if (isa_ == IsaLevel::kRef) {
    reference_weights_ = reference_copy(weights);
    return;
  }
  if (shape_.groups > 1 || shape_.in_channels > 1) {
    grouped_ = std::make_unique<int8_detail::GroupedInt8Conv>(unpadded(shape_), weights.data());
    return;
  }
  conv_ = std::make_unique<int8_detail::PackedInt8Conv>(unpadded(shape_), weights.data(), dt::s32,
                                                        dnnl::primitive_attr(), nullptr);
}

DynamicInt8Conv1d::~DynamicInt8Conv1d() = default;

std::string DynamicInt8Conv1d::implementation(int64_t t_in) const {
  if (grouped_) return grouped_->implementation();
  return conv_ ? conv_->implementation(t_in + 2 * shape_.padding) : "ref";
}

void DynamicInt8Conv1d::run(const float* x, int64_t t_in, float* y) const {
  const Conv1dShape& s = shape_;
  const int64_t t_out = s.output_length(t_in);
  if (t_out == 0) return;
  const int64_t total = t_in * s.in_channels;
  const IsaLevel isa = isa_;
  float lo = 0.0f, hi = 0.0f;
  const int64_t blocks = (total + kBlock - 1) / kBlock;
  int8_detail::Scratch& scratch = int8_detail::thread_scratch();
  float* mins = int8_detail::grow(scratch.mins, blocks);
  float* maxs = int8_detail::grow(scratch.maxs, blocks);
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    int64_t start = b * kBlock;
    int8_detail::row_min_max(x + start, std::min(kBlock, total - start), &mins[b], &maxs[b], isa);
  }
  lo = *std::min_element(mins, mins + blocks);
  hi = *std::max_element(maxs, maxs + blocks);
  const quant::QuantParams p = quant::choose_dynamic_fbgemm(lo, hi, range_);
  const float* bias = bias_.empty() ? nullptr : bias_.data();
  if (reference_weights_) {
    int8_ref::static_conv1d(x, t_in, s, p, range_, *reference_weights_, bias, activation_, y);
    return;
  }
  const int64_t t_padded = t_in + 2 * s.padding;
  uint8_t* q = int8_detail::grow(scratch.q, t_padded * s.in_channels);
  quantize_padded(x, t_in, s, p, range_, q, isa);
  const int8_detail::EpilogueRow epilogue = epilogue_row(p, w_scales_, w_sums_, bias, activation_);
  if (grouped_) {
    grouped_->run(q, t_padded, epilogue, isa, y);
    return;
  }
  conv_->run(q, t_padded, y);
  dequantize_rows(y, t_out, s.out_channels, epilogue, isa);
}

}  // namespace quasr::kernels
