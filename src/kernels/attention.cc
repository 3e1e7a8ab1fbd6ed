#include "kernels/attention.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>

#include "kernels/dnnl_runtime.h"
#include "kernels/elementwise.h"

namespace quasr::kernels {
namespace {

using dt = dnnl::memory::data_type;
using dims = dnnl::memory::dims;

constexpr int64_t kQueryBlock = 256;
constexpr size_t kMaxCachedShapes = 256;

struct StridedMatrix {
  dims shape;
  dims strides;
  dnnl::memory::desc desc() const { return {shape, dt::f32, strides}; }
};

// Batched (over heads) matmul primitives, cached by their full geometry.
dnnl::matmul cached_matmul(const StridedMatrix& a, const StridedMatrix& b, const StridedMatrix& c,
                           float scale) {
  using Key = std::tuple<dims, dims, dims, dims, dims, dims, float>;
  static std::mutex mutex;
  static std::map<Key, dnnl::matmul> cache;
  Key key{a.shape, a.strides, b.shape, b.strides, c.shape, c.strides, scale};
  std::lock_guard<std::mutex> lock(mutex);
  auto found = cache.find(key);
  if (found != cache.end()) return found->second;
  if (cache.size() >= kMaxCachedShapes) cache.clear();
  dnnl::primitive_attr attr;
  if (scale != 1.0f) attr.set_output_scales(0, {scale});
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a.desc(), b.desc(), c.desc()), attr,
                                  cpu_engine());
  return cache.emplace(key, dnnl::matmul(pd)).first->second;
}

void run_matmul(const StridedMatrix& a, const float* a_data, const StridedMatrix& b,
                const float* b_data, const StridedMatrix& c, float* c_data, float scale) {
  dnnl::matmul matmul = cached_matmul(a, b, c, scale);
  auto& engine = cpu_engine();
  dnnl::memory am(a.desc(), engine, const_cast<float*>(a_data));
  dnnl::memory bm(b.desc(), engine, const_cast<float*>(b_data));
  dnnl::memory cm(c.desc(), engine, c_data);
  matmul.execute(cpu_stream(), {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  cpu_stream().wait();
}

}  // namespace

void self_attention(const float* q, const float* k, const float* v, int64_t ld, int64_t frames,
                    int64_t valid_frames, int64_t heads, int64_t head_dim, float scale, float* out,
                    int64_t ld_out, AlignedBuffer& scratch) {
  if (frames == 0) return;
  // All frames take part in the products (stable shapes); keys past
  // valid_frames get probability 0.
  const int64_t keys = frames;
  const int64_t valid = std::max<int64_t>(1, std::min(valid_frames, frames));
  const int64_t block = std::min(kQueryBlock, frames);
  scratch.reserve(static_cast<size_t>(heads * block * keys));
  float* scores = scratch.data();
  // Kᵀ and V are the same for every query block: [heads, head_dim, keys] and [heads, keys,
  // head_dim].
  StridedMatrix key_t{{heads, head_dim, keys}, {head_dim, 1, ld}};
  StridedMatrix value{{heads, keys, head_dim}, {head_dim, ld, 1}};
  for (int64_t start = 0; start < frames; start += block) {
    int64_t rows = std::min(block, frames - start);
    StridedMatrix query{{heads, rows, head_dim}, {head_dim, ld, 1}};
    StridedMatrix score{{heads, rows, keys}, {rows * keys, keys, 1}};
    run_matmul(query, q + start * ld, key_t, k, score, scores, scale);
    softmax_rows_prefix(scores, heads * rows, valid, keys);
    StridedMatrix context{{heads, rows, head_dim}, {head_dim, ld_out, 1}};
    run_matmul(score, scores, value, v, context, out + start * ld_out, 1.0f);
  }
}

}  // namespace quasr::kernels
