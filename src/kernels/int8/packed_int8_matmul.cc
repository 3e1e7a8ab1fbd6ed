#include "kernels/int8/packed_int8_matmul.h"

#include <cstring>

#include "kernels/dnnl_runtime.h"

namespace quasr::kernels::int8_detail {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

namespace {
// The weight layout oneDNN picks depends on the ISA and (k, n), not on m.
constexpr int64_t kPackingRows = 256;
constexpr size_t kMaxCachedShapes = 64;
}  // namespace

bool full_range_activations() {
  static const bool full =
      isa_level() == IsaLevel::kAvx512Vnni &&
      onednn_isa_is_one_of({dnnl::cpu_isa::avx2_vnni, dnnl::cpu_isa::avx512_core_vnni,
                            dnnl::cpu_isa::avx512_core_bf16, dnnl::cpu_isa::avx512_core_amx,
                            dnnl::cpu_isa::all});
  return full;
}

Scratch& thread_scratch() {
  thread_local Scratch scratch;
  return scratch;
}

dnnl::matmul::primitive_desc PackedInt8Matmul::make_pd(int64_t m, int64_t q_stride,
                                                       int64_t y_stride) const {
  dnnl::memory::desc src({m, k_}, dt::u8, dnnl::memory::dims{q_stride, 1});
  dnnl::memory::desc weights({k_, n_}, dt::s8, tag::any);
  dnnl::memory::desc dst({m, n_}, dst_type_, dnnl::memory::dims{y_stride, 1});
  dnnl::memory::desc bias =
      has_bias_ ? dnnl::memory::desc({1, n_}, dt::f32, tag::ab) : dnnl::memory::desc();
  // The grouped conv runs the same primitive from several threads.
  return {dnnl::matmul::desc(src, weights, bias, dst), user_scratchpad(attr_), cpu_engine()};
}

PackedInt8Matmul::PackedInt8Matmul(const int8_t* weight_nk, int64_t n, int64_t k, dt dst_type,
                                   const dnnl::primitive_attr& attr, const float* bias)
    : n_(n), k_(k), dst_type_(dst_type), attr_(attr), has_bias_(bias != nullptr) {
  auto& engine = cpu_engine();
  auto pd = make_pd(kPackingRows, k, n);
  weights_ = WeightMemory(pd.weights_desc());
  // [n, k] row-major is the [k, n] matrix with strides {1, k}.
  dnnl::memory::desc plain({k, n}, dt::s8, dnnl::memory::dims{1, k});
  dnnl::memory source(plain, engine, const_cast<int8_t*>(weight_nk));
  weights_.fill_from(source);
  if (has_bias_) {
    bias_ = dnnl::memory({{1, n}, dt::f32, tag::ab}, engine);
    std::memcpy(bias_.get_data_handle(), bias, sizeof(float) * n);
  }
  cpu_stream().wait();
}

PackedInt8Matmul::PackedInt8Matmul(const PackedInt8Matmul& weights_from, dt dst_type,
                                   const dnnl::primitive_attr& attr, const float* bias)
    : n_(weights_from.n_),
      k_(weights_from.k_),
      dst_type_(dst_type),
      attr_(attr),
      has_bias_(bias != nullptr),
      weights_(weights_from.weights_) {
  if (has_bias_) {
    bias_ = dnnl::memory({{1, n_}, dt::f32, tag::ab}, cpu_engine());
    std::memcpy(bias_.get_data_handle(), bias, sizeof(float) * n_);
  }
}

PackedInt8Matmul::Prepared PackedInt8Matmul::prepared_for(int64_t m, int64_t q_stride,
                                                          int64_t y_stride) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Key key{m, q_stride, y_stride};
  auto found = prepared_.find(key);
  if (found != prepared_.end()) return found->second;
  // Bounded: a corpus of many lengths must not grow the cache without limit.
  if (prepared_.size() >= kMaxCachedShapes) prepared_.clear();
  auto pd = make_pd(m, q_stride, y_stride);
  dnnl::memory weights = weights_.get();
  if (pd.weights_desc() != weights.get_desc()) {
    // Rare (tiny m on some ISAs): this shape wants another layout.
    weights = dnnl::memory(pd.weights_desc(), cpu_engine());
    dnnl::memory packed = weights_.get();
    dnnl::reorder(packed, weights).execute(cpu_stream(), packed, weights);
    cpu_stream().wait();
  }
  return prepared_.emplace(key, Prepared{dnnl::matmul(pd), weights, pd.scratchpad_desc()})
      .first->second;
}

void PackedInt8Matmul::run(const uint8_t* q, int64_t m, int64_t q_stride, void* y,
                           int64_t y_stride) const {
  if (m == 0) return;
  Prepared prepared = prepared_for(m, q_stride, y_stride);
  auto& engine = cpu_engine();
  dnnl::memory src({{m, k_}, dt::u8, dnnl::memory::dims{q_stride, 1}}, engine,
                   const_cast<uint8_t*>(q));
  dnnl::memory dst({{m, n_}, dst_type_, dnnl::memory::dims{y_stride, 1}}, engine, y);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, prepared.weights}, {DNNL_ARG_DST, dst}};
  if (has_bias_) args.emplace(DNNL_ARG_BIAS, bias_);
  execute_with_thread_scratchpad(prepared.primitive, prepared.scratchpad, args);
}

std::string PackedInt8Matmul::implementation(int64_t m) const {
  return make_pd(m, k_, n_).impl_info_str();
}

}  // namespace quasr::kernels::int8_detail
