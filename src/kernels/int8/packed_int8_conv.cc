#include "kernels/int8/packed_int8_conv.h"

#include <cstring>
#include <vector>

#include "kernels/dnnl_runtime.h"

namespace quasr::kernels::int8_detail {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

namespace {
constexpr size_t kMaxCachedShapes = 64;
}  // namespace

dnnl::memory::desc PackedInt8Conv::weights_desc(tag format) const {
  const Conv1dShape& s = shape_;
  if (s.groups == 1) return {{s.out_channels, s.in_channels, s.kernel}, dt::s8, format};
  return {
      {s.groups, s.out_channels / s.groups, s.in_channels / s.groups, s.kernel}, dt::s8, format};
}

dnnl::convolution_forward::primitive_desc PackedInt8Conv::make_pd(int64_t t_in) const {
  const Conv1dShape& s = shape_;
  // Blocks read real neighbours: callers pad the quantized input themselves.
  dnnl::memory::desc src({1, s.in_channels, t_in}, dt::u8, tag::nwc);
  dnnl::memory::desc dst({1, s.out_channels, s.output_length(t_in)}, dst_type_, tag::nwc);
  dnnl::memory::desc bias =
      has_bias_ ? dnnl::memory::desc({s.out_channels}, dt::f32, tag::a) : dnnl::memory::desc();
  dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
      weights_desc(tag::any), bias, dst, {s.stride}, {s.padding}, {s.padding});
  return {desc, attr_, cpu_engine()};
}

PackedInt8Conv::PackedInt8Conv(const Conv1dShape& shape, const int8_t* weight, dt dst_type,
                               const dnnl::primitive_attr& attr, const float* bias)
    : shape_(shape), dst_type_(dst_type), attr_(attr), has_bias_(bias != nullptr) {
  auto& engine = cpu_engine();
  auto pd = make_pd((kLargestConvBlock - 1) * shape.stride + shape.kernel);
  weights_ = WeightMemory(pd.weights_desc());
  dnnl::memory source(weights_desc(shape_.groups == 1 ? tag::oiw : tag::goiw), engine,
                      const_cast<int8_t*>(weight));
  weights_.fill_from(source);
  if (has_bias_) {
    bias_ = make_f32_vector(bias, shape_.out_channels);
  }
  cpu_stream().wait();
}

PackedInt8Conv::Prepared PackedInt8Conv::prepared_for(int64_t t_in) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = prepared_.find(t_in);
  if (found != prepared_.end()) return found->second;
  if (prepared_.size() >= kMaxCachedShapes) prepared_.clear();
  // The layout oneDNN prefers can depend on the length; reorder once if so.
  auto pd = make_pd(t_in);
  dnnl::memory weights = weights_in_layout(weights_.get(), pd.weights_desc());
  return prepared_.emplace(t_in, Prepared{dnnl::convolution_forward(pd), weights}).first->second;
}

std::string PackedInt8Conv::implementation(int64_t t_in) const {
  return make_pd(t_in).impl_info_str();
}

void PackedInt8Conv::run_block(const uint8_t* q, int64_t frames_out, void* y) const {
  const Conv1dShape& s = shape_;
  const int64_t t_in = (frames_out - 1) * s.stride + s.kernel;
  Prepared prepared = prepared_for(t_in);
  auto& engine = cpu_engine();
  dnnl::memory src({{1, s.in_channels, t_in}, dt::u8, tag::nwc}, engine, const_cast<uint8_t*>(q));
  dnnl::memory dst({{1, s.out_channels, frames_out}, dst_type_, tag::nwc}, engine, y);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, prepared.weights}, {DNNL_ARG_DST, dst}};
  if (has_bias_) args.emplace(DNNL_ARG_BIAS, bias_);
  prepared.primitive.execute(cpu_stream(), args);
  cpu_stream().wait();
}

void PackedInt8Conv::run(const uint8_t* q, int64_t t_in, void* y) const {
  const Conv1dShape& s = shape_;
  const int64_t t_out = s.output_length(t_in);
  if (t_out == 0) return;
  const size_t element = dnnl::memory::data_type_size(dst_type_);
  auto* out = static_cast<uint8_t*>(y);
  thread_local std::vector<uint8_t> tail_in, tail_out;
  for_each_output_block(
      t_out,
      [&](int64_t first, int64_t frames) {
        run_block(q + first * s.stride * s.in_channels, frames,
                  out + first * s.out_channels * element);
      },
      [&](int64_t first, int64_t frames) {
        const int64_t block_in = (kSmallestConvBlock - 1) * s.stride + s.kernel;
        tail_in.assign(static_cast<size_t>(block_in * s.in_channels), 0);
        std::memcpy(tail_in.data(), q + first * s.stride * s.in_channels,
                    static_cast<size_t>((t_in - first * s.stride) * s.in_channels));
        tail_out.resize(static_cast<size_t>(kSmallestConvBlock * s.out_channels) * element);
        run_block(tail_in.data(), kSmallestConvBlock, tail_out.data());
        std::memcpy(out + first * s.out_channels * element, tail_out.data(),
                    static_cast<size_t>(frames * s.out_channels) * element);
      });
}

}  // namespace quasr::kernels::int8_detail
