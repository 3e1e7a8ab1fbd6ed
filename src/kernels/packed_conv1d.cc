#include "kernels/packed_conv1d.h"

#include <cstring>

#include "kernels/dnnl_runtime.h"

namespace quasr::kernels {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

namespace {
constexpr int64_t kPackingFrames = 4000;
constexpr size_t kMaxCachedShapes = 64;
}  // namespace

dnnl::memory::desc PackedConv1dF32::weights_desc_any() const {
  const Conv1dShape& s = shape_;
  if (s.groups == 1) return {{s.out_channels, s.in_channels, s.kernel}, dt::f32, tag::any};
  return {
      {s.groups, s.out_channels / s.groups, s.in_channels / s.groups, s.kernel}, dt::f32, tag::any};
}

dnnl::convolution_forward::primitive_desc PackedConv1dF32::make_pd(
    int64_t t_in, const dnnl::memory::desc& weights) const {
  const Conv1dShape& s = shape_;
  dnnl::memory::desc src({1, s.in_channels, t_in}, dt::f32, tag::nwc);
  dnnl::memory::desc dst({1, s.out_channels, s.output_length(t_in)}, dt::f32, tag::nwc);
  dnnl::memory::desc bias =
      has_bias_ ? dnnl::memory::desc({s.out_channels}, dt::f32, tag::a) : dnnl::memory::desc();
  dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                       dnnl::algorithm::convolution_direct, src, weights, bias, dst,
                                       {s.stride}, {s.padding}, {s.padding});
  return {desc, activation_attr(activation_), cpu_engine()};
}

PackedConv1dF32::PackedConv1dF32(const Conv1dShape& shape, const float* weight, const float* bias,
                                 Activation activation)
    : shape_(shape), activation_(activation), has_bias_(bias != nullptr) {
  auto& engine = cpu_engine();
  auto pd = make_pd(kPackingFrames, weights_desc_any());
  weights_ = dnnl::memory(pd.weights_desc(), engine);
  const Conv1dShape& s = shape_;
  dnnl::memory::desc plain =
      s.groups == 1
          ? dnnl::memory::desc({s.out_channels, s.in_channels, s.kernel}, dt::f32, tag::oiw)
          : dnnl::memory::desc(
                {s.groups, s.out_channels / s.groups, s.in_channels / s.groups, s.kernel}, dt::f32,
                tag::goiw);
  dnnl::memory source(plain, engine, const_cast<float*>(weight));
  dnnl::reorder(source, weights_).execute(cpu_stream(), source, weights_);
  if (has_bias_) {
    bias_ = dnnl::memory({{s.out_channels}, dt::f32, tag::a}, engine);
    std::memcpy(bias_.get_data_handle(), bias, sizeof(float) * s.out_channels);
  }
  cpu_stream().wait();
}

PackedConv1dF32::Prepared PackedConv1dF32::prepared_for(int64_t t_in) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = prepared_.find(t_in);
  if (found != prepared_.end()) return found->second;
  if (prepared_.size() >= kMaxCachedShapes) prepared_.clear();
  // Ask for the layout oneDNN prefers at this length; it is almost always the
  // packed one, and otherwise the weights are reordered once for this length.
  auto pd = make_pd(t_in, weights_desc_any());
  dnnl::memory weights = weights_;
  if (pd.weights_desc() != weights_.get_desc()) {
    dnnl::memory packed = weights_;
    weights = dnnl::memory(pd.weights_desc(), cpu_engine());
    dnnl::reorder(packed, weights).execute(cpu_stream(), packed, weights);
    cpu_stream().wait();
  }
  return prepared_.emplace(t_in, Prepared{dnnl::convolution_forward(pd), weights}).first->second;
}

void PackedConv1dF32::run(const float* x, int64_t t_in, float* y) const {
  int64_t t_out = shape_.output_length(t_in);
  if (t_out == 0) return;
  Prepared prepared = prepared_for(t_in);
  auto& engine = cpu_engine();
  const Conv1dShape& s = shape_;
  dnnl::memory src({{1, s.in_channels, t_in}, dt::f32, tag::nwc}, engine, const_cast<float*>(x));
  dnnl::memory dst({{1, s.out_channels, t_out}, dt::f32, tag::nwc}, engine, y);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, prepared.weights}, {DNNL_ARG_DST, dst}};
  if (has_bias_) args.emplace(DNNL_ARG_BIAS, bias_);
  prepared.primitive.execute(cpu_stream(), args);
  cpu_stream().wait();
}

}  // namespace quasr::kernels
