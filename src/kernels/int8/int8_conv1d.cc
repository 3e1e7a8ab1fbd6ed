#include "kernels/int8/int8_conv1d.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernels/dnnl_runtime.h"
#include "kernels/int8/int8_linear.h"
#include "kernels/int8/packed_int8_matmul.h"
#include "kernels/int8/reference.h"
#include "kernels/int8/row_quantize.h"

namespace quasr::kernels {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

namespace {
constexpr int64_t kPackingFrames = 4000;
constexpr size_t kMaxCachedShapes = 64;
constexpr int64_t kQuantizeBlock = 1 << 14;
}  // namespace

dnnl::memory::desc StaticInt8Conv1d::weights_desc(tag format) const {
  const Conv1dShape& s = shape_;
  if (s.groups == 1) return {{s.out_channels, s.in_channels, s.kernel}, dt::s8, format};
  return {
      {s.groups, s.out_channels / s.groups, s.in_channels / s.groups, s.kernel}, dt::s8, format};
}

dnnl::convolution_forward::primitive_desc StaticInt8Conv1d::make_pd(int64_t t_in) const {
  const Conv1dShape& s = shape_;
  dnnl::memory::desc src({1, s.in_channels, t_in}, dt::u8, tag::nwc);
  dnnl::memory::desc dst({1, s.out_channels, s.output_length(t_in)}, dt::f32, tag::nwc);
  dnnl::memory::desc bias =
      has_bias_ ? dnnl::memory::desc({s.out_channels}, dt::f32, tag::a) : dnnl::memory::desc();
  dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
      weights_desc(tag::any), bias, dst, {s.stride}, {s.padding}, {s.padding});
  return {desc, attr_, cpu_engine()};
}

StaticInt8Conv1d::StaticInt8Conv1d(const Conv1dShape& shape, const Int8Weights& weights,
                                   const float* bias, Activation activation,
                                   quant::QuantParams input, quant::QuantRange range)
    : shape_(shape), activation_(activation), input_(input), range_(range), isa_(isa_level()) {
  const Conv1dShape& s = shape_;
  if (s.groups <= 0 || s.in_channels % s.groups || s.out_channels % s.groups || s.kernel <= 0 ||
      s.stride <= 0 || s.padding < 0) {
    throw Error("StaticInt8Conv1d: invalid shape (in " + std::to_string(s.in_channels) + ", out " +
                std::to_string(s.out_channels) + ", groups " + std::to_string(s.groups) + ")");
  }
  const int64_t cols = s.in_channels / s.groups * s.kernel;
  if (weights.rows() != s.out_channels || weights.cols() != cols) {
    throw Error("StaticInt8Conv1d: weights are [" + std::to_string(weights.rows()) + ", " +
                std::to_string(weights.cols()) + "], expected [" + std::to_string(s.out_channels) +
                ", " + std::to_string(cols) + "]");
  }
  check_static_input(input, range, "StaticInt8Conv1d");
  if (isa_ != IsaLevel::kRef && isa_ != IsaLevel::kAvx512Vnni && range_.qmax > 127) {
    // 7 bits where VPMADDUBSW could saturate (see int8_linear.h).
    float factor = static_cast<float>(range_.qmax - range_.qmin) / 127.0f;
    input_.scale *= factor;
    input_.zero_point = static_cast<int32_t>(std::nearbyint(input_.zero_point / factor));
    range_ = quant::u8_range(true);
  }
  if (isa_ == IsaLevel::kRef) {
    if (bias) reference_bias_.assign(bias, bias + s.out_channels);
    reference_weights_ = std::make_unique<Int8Weights>(
        Int8Weights::copy(weights.data(), weights.rows(), weights.cols(), weights.scales().data(),
                          static_cast<int64_t>(weights.scales().size())));
    return;
  }
  std::vector<float> scales(static_cast<size_t>(s.out_channels));
  std::vector<float> folded(static_cast<size_t>(s.out_channels));
  const bool fold_zero_point = s.padding == 0;
  for (int64_t oc = 0; oc < s.out_channels; ++oc) {
    // In accumulator units: oneDNN adds the bias before the output scale.
    scales[oc] = input_.scale * weights.scale(oc);
    folded[oc] = bias ? bias[oc] / scales[oc] : 0.0f;
    if (fold_zero_point) {
      folded[oc] -=
          static_cast<float>(input_.zero_point) * static_cast<float>(weights.row_sums()[oc]);
    }
  }
  attr_ = activation_attr(activation);
  attr_.set_output_scales(2, scales);
  if (!fold_zero_point && input_.zero_point != 0) {
    attr_.set_zero_points(DNNL_ARG_SRC, 0, {input_.zero_point});
  }
  has_bias_ = bias != nullptr || (fold_zero_point && input_.zero_point != 0);
  auto& engine = cpu_engine();
  auto pd = make_pd(kPackingFrames);
  weights_ = dnnl::memory(pd.weights_desc(), engine);
  dnnl::memory source(weights_desc(s.groups == 1 ? tag::oiw : tag::goiw), engine,
                      const_cast<int8_t*>(weights.data()));
  dnnl::reorder(source, weights_).execute(cpu_stream(), source, weights_);
  if (has_bias_) {
    bias_ = dnnl::memory({{s.out_channels}, dt::f32, tag::a}, engine);
    std::memcpy(bias_.get_data_handle(), folded.data(), sizeof(float) * s.out_channels);
  }
  cpu_stream().wait();
}

StaticInt8Conv1d::Prepared StaticInt8Conv1d::prepared_for(int64_t t_in) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = prepared_.find(t_in);
  if (found != prepared_.end()) return found->second;
  if (prepared_.size() >= kMaxCachedShapes) prepared_.clear();
  auto pd = make_pd(t_in);
  dnnl::memory weights = weights_;
  if (pd.weights_desc() != weights_.get_desc()) {
    dnnl::memory packed = weights_;
    weights = dnnl::memory(pd.weights_desc(), cpu_engine());
    dnnl::reorder(packed, weights).execute(cpu_stream(), packed, weights);
    cpu_stream().wait();
  }
  return prepared_.emplace(t_in, Prepared{dnnl::convolution_forward(pd), weights}).first->second;
}

std::string StaticInt8Conv1d::implementation(int64_t t_in) const {
  return reference_weights_ ? "ref" : make_pd(t_in).impl_info_str();
}

void StaticInt8Conv1d::run(const float* x, int64_t t_in, float* y) const {
  const Conv1dShape& s = shape_;
  const int64_t t_out = s.output_length(t_in);
  if (t_out == 0) return;
  if (reference_weights_) {
    int8_ref::static_conv1d(x, t_in, s, input_, range_, *reference_weights_,
                            reference_bias_.empty() ? nullptr : reference_bias_.data(), activation_,
                            y);
    return;
  }
  const int64_t total = t_in * s.in_channels;
  uint8_t* q = int8_detail::grow(int8_detail::thread_scratch().q, total);
  const float inv = quant::inverse_scale(input_.scale);
#pragma omp parallel for schedule(static) if (total >= 2 * kQuantizeBlock)
  for (int64_t start = 0; start < total; start += kQuantizeBlock) {
    int8_detail::quantize_row_u8(x + start, std::min(kQuantizeBlock, total - start), inv,
                                 input_.zero_point, range_, q + start, isa_);
  }
  Prepared prepared = prepared_for(t_in);
  auto& engine = cpu_engine();
  dnnl::memory src({{1, s.in_channels, t_in}, dt::u8, tag::nwc}, engine, q);
  dnnl::memory dst({{1, s.out_channels, t_out}, dt::f32, tag::nwc}, engine, y);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, prepared.weights}, {DNNL_ARG_DST, dst}};
  if (has_bias_) args.emplace(DNNL_ARG_BIAS, bias_);
  prepared.primitive.execute(cpu_stream(), args);
  cpu_stream().wait();
}

}  // namespace quasr::kernels
