#include "kernels/packed_conv1d.h"

#include <cstring>
#include <vector>

#include "kernels/dnnl_runtime.h"

namespace quasr::kernels {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

namespace {
constexpr size_t kMaxCachedShapes = 64;
}  // namespace

dnnl::memory::desc PackedConv1dF32::weights_desc_any() const {
  const Conv1dShape& s = shape_;
  if (s.groups == 1) return {{s.out_channels, s.in_channels, s.kernel}, dt::f32, tag::any};
  return {
      {s.groups, s.out_channels / s.groups, s.in_channels / s.groups, s.kernel}, dt::f32, tag::any};
}

dnnl::convolution_forward::primitive_desc PackedConv1dF32::make_pd(
    int64_t frames_out, const dnnl::memory::desc& weights) const {
  const Conv1dShape& s = shape_;
  dnnl::memory::desc src({1, s.in_channels, block_input_length(frames_out)}, dt::f32, tag::nwc);
  dnnl::memory::desc dst({1, s.out_channels, frames_out}, dt::f32, tag::nwc);
  dnnl::memory::desc bias =
      has_bias_ ? dnnl::memory::desc({s.out_channels}, dt::f32, tag::a) : dnnl::memory::desc();
  dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                       dnnl::algorithm::convolution_direct, src, weights, bias, dst,
                                       {s.stride}, {0}, {0});
  return {desc, activation_attr(activation_), cpu_engine()};
}

PackedConv1dF32::PackedConv1dF32(const Conv1dShape& shape, const float* weight, const float* bias,
                                 Activation activation)
    : shape_(shape), activation_(activation), has_bias_(bias != nullptr) {
  auto& engine = cpu_engine();
  auto pd = make_pd(kLargestConvBlock, weights_desc_any());
  weights_ = WeightMemory(pd.weights_desc());
  const Conv1dShape& s = shape_;
  dnnl::memory::desc plain =
      s.groups == 1
          ? dnnl::memory::desc({s.out_channels, s.in_channels, s.kernel}, dt::f32, tag::oiw)
          : dnnl::memory::desc(
                {s.groups, s.out_channels / s.groups, s.in_channels / s.groups, s.kernel}, dt::f32,
                tag::goiw);
  dnnl::memory source(plain, engine, const_cast<float*>(weight));
  weights_.fill_from(source);
  if (has_bias_) {
    bias_ = make_f32_vector(bias, s.out_channels);
  }
  cpu_stream().wait();
}

PackedConv1dF32::Prepared PackedConv1dF32::prepared_for(int64_t frames_out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = prepared_.find(frames_out);
  if (found != prepared_.end()) return found->second;
  if (prepared_.size() >= kMaxCachedShapes) prepared_.clear();
  // Ask for the layout oneDNN prefers at this length; it is almost always the
  // packed one, and otherwise the weights are reordered once for this length.
  auto pd = make_pd(frames_out, weights_desc_any());
  dnnl::memory weights = weights_in_layout(weights_.get(), pd.weights_desc());
  return prepared_.emplace(frames_out, Prepared{dnnl::convolution_forward(pd), weights})
      .first->second;
}

void PackedConv1dF32::run_block(const float* x, int64_t frames_out, float* y) const {
  Prepared prepared = prepared_for(frames_out);
  auto& engine = cpu_engine();
  const Conv1dShape& s = shape_;
  dnnl::memory src({{1, s.in_channels, block_input_length(frames_out)}, dt::f32, tag::nwc}, engine,
                   const_cast<float*>(x));
  dnnl::memory dst({{1, s.out_channels, frames_out}, dt::f32, tag::nwc}, engine, y);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, prepared.weights}, {DNNL_ARG_DST, dst}};
  if (has_bias_) args.emplace(DNNL_ARG_BIAS, bias_);
  prepared.primitive.execute(cpu_stream(), args);
  cpu_stream().wait();
}

void PackedConv1dF32::run(const float* x, int64_t t_in, float* y) const {
  const Conv1dShape& s = shape_;
  const int64_t t_out = s.output_length(t_in);
  if (t_out == 0) return;
  thread_local std::vector<float> padded, tail_in, tail_out;
  if (s.padding > 0) {  // blocks read real neighbours, so padding is explicit rows of zeros
    padded.assign(static_cast<size_t>((t_in + 2 * s.padding) * s.in_channels), 0.0f);
    std::memcpy(padded.data() + s.padding * s.in_channels, x, sizeof(float) * t_in * s.in_channels);
    x = padded.data();
    t_in += 2 * s.padding;
  }
  for_each_output_block(
      t_out,
      [&](int64_t first, int64_t frames) {
        run_block(x + first * s.stride * s.in_channels, frames, y + first * s.out_channels);
      },
      [&](int64_t first, int64_t frames) {
        // A zero-extended smallest block, of which the head is kept.
        const int64_t available = t_in - first * s.stride;
        tail_in.assign(static_cast<size_t>(block_input_length(kSmallestConvBlock) * s.in_channels),
                       0.0f);
        std::memcpy(tail_in.data(), x + first * s.stride * s.in_channels,
                    sizeof(float) * available * s.in_channels);
        tail_out.resize(static_cast<size_t>(kSmallestConvBlock * s.out_channels));
        run_block(tail_in.data(), kSmallestConvBlock, tail_out.data());
        std::memcpy(y + first * s.out_channels, tail_out.data(),
                    sizeof(float) * frames * s.out_channels);
      });
}

}  // namespace quasr::kernels
