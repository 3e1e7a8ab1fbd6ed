#include "kernels/packed_matmul.h"

#include <cstring>

#include "kernels/dnnl_runtime.h"

namespace quasr::kernels {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

namespace {
// A typical utterance length; the weight layout oneDNN picks depends on the
// ISA and (k, n), not on m, so packing once for this m serves every m.
constexpr int64_t kPackingRows = 256;
constexpr size_t kMaxCachedShapes = 64;
}  // namespace

dnnl::primitive_attr activation_attr(Activation activation) {
  dnnl::primitive_attr attr;
  if (activation == Activation::kGelu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  return attr;
}

PackedMatmulF32::PackedMatmulF32(const float* weight_nk, const float* bias, int64_t n, int64_t k,
                                 Activation activation)
    : n_(n), k_(k), activation_(activation), has_bias_(bias != nullptr) {
  auto& engine = cpu_engine();
  dnnl::memory::desc src({kPackingRows, k}, dt::f32, tag::ab);
  dnnl::memory::desc dst({kPackingRows, n}, dt::f32, tag::ab);
  dnnl::memory::desc any_weights({k, n}, dt::f32, tag::any);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, any_weights, dst),
                                  activation_attr(activation), engine);
  weights_desc_ = pd.weights_desc();
  weights_ = WeightMemory(weights_desc_);
  // [n, k] row-major is the [k, n] matrix with strides {1, k}.
  dnnl::memory::desc plain({k, n}, dt::f32, dnnl::memory::dims{1, k});
  dnnl::memory source(plain, engine, const_cast<float*>(weight_nk));
  weights_.fill_from(source);
  if (has_bias_) {
    bias_ = dnnl::memory({{1, n}, dt::f32, tag::ab}, engine);
    std::memcpy(bias_.get_data_handle(), bias, sizeof(float) * n);
  }
  cpu_stream().wait();
}

PackedMatmulF32::Prepared PackedMatmulF32::primitive_for(int64_t m, int64_t x_row_stride,
                                                         int64_t y_row_stride) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Key key{m, x_row_stride, y_row_stride};
  auto found = primitives_.find(key);
  if (found != primitives_.end()) return found->second;
  // Bounded: a corpus of many lengths must not grow the cache without limit.
  if (primitives_.size() >= kMaxCachedShapes) primitives_.clear();
  dnnl::memory::desc src({m, k_}, dt::f32, dnnl::memory::dims{x_row_stride, 1});
  dnnl::memory::desc dst({m, n_}, dt::f32, dnnl::memory::dims{y_row_stride, 1});
  dnnl::memory::desc bias =
      has_bias_ ? dnnl::memory::desc({1, n_}, dt::f32, tag::ab) : dnnl::memory::desc();
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights_desc_, bias, dst),
                                  user_scratchpad(activation_attr(activation_)), cpu_engine());
  return primitives_.emplace(key, Prepared{dnnl::matmul(pd), pd.scratchpad_desc()}).first->second;
}

void PackedMatmulF32::run(const float* x, int64_t m, int64_t x_row_stride, float* y,
                          int64_t y_row_stride) const {
  if (m == 0) return;
  Prepared prepared = primitive_for(m, x_row_stride, y_row_stride);
  auto& engine = cpu_engine();
  dnnl::memory src({{m, k_}, dt::f32, dnnl::memory::dims{x_row_stride, 1}}, engine,
                   const_cast<float*>(x));
  dnnl::memory dst({{m, n_}, dt::f32, dnnl::memory::dims{y_row_stride, 1}}, engine, y);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights_.get()}, {DNNL_ARG_DST, dst}};
  if (has_bias_) args.emplace(DNNL_ARG_BIAS, bias_);
  execute_with_thread_scratchpad(prepared.primitive, prepared.scratchpad, args);
}

}  // namespace quasr::kernels
