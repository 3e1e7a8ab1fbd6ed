#include "kernels/attention.h"

#include <immintrin.h>

// GCC 12's AVX-512 shift intrinsics start from an undefined vector.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>

#include "core/cpu_features.h"
#include "kernels/dnnl_runtime.h"
#include "kernels/elementwise.h"
#include "kernels/vector_math_avx512.h"

namespace quasr::kernels {
namespace {

using dt = dnnl::memory::data_type;
using dims = dnnl::memory::dims;

constexpr int64_t kQueryBlock = 256;
constexpr size_t kMaxCachedShapes = 256;

// Query rows per block: 256, fewer once a block's scores (heads x rows x
// keys floats) would pass 16 MiB, which bounds memory on long inputs. Smaller
// blocks to keep scores in L2 were tried and lost: at 2 threads the many
// small products cost more than the traffic they saved (1024 frames, 16
// heads: 38 ms with 1 MiB blocks, 14 ms with 256-row blocks).
int64_t query_block(int64_t heads, int64_t keys) {
  constexpr int64_t kScoreFloats = 1 << 22;
  int64_t rows = kScoreFloats / std::max<int64_t>(1, heads * keys) / 16 * 16;
  return std::clamp<int64_t>(rows, 16, kQueryBlock);
}

struct StridedMatrix {
  dims shape;
  dims strides;
  dt type = dt::f32;
  dnnl::memory::desc desc() const { return {shape, type, strides}; }
};

// Batched (over heads) matmul primitives, cached by their full geometry.
dnnl::matmul cached_matmul(const StridedMatrix& a, const StridedMatrix& b, const StridedMatrix& c,
                           float scale) {
  using Key = std::tuple<dims, dims, dims, dims, dims, dims, float, dt>;
  static std::mutex mutex;
  static std::map<Key, dnnl::matmul> cache;
  Key key{a.shape, a.strides, b.shape, b.strides, c.shape, c.strides, scale, a.type};
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

void run_matmul(const StridedMatrix& a, const void* a_data, const StridedMatrix& b,
                const void* b_data, const StridedMatrix& c, float* c_data, float scale) {
  dnnl::matmul matmul = cached_matmul(a, b, c, scale);
  auto& engine = cpu_engine();
  dnnl::memory am(a.desc(), engine, const_cast<void*>(a_data));
  dnnl::memory bm(b.desc(), engine, const_cast<void*>(b_data));
  dnnl::memory cm(c.desc(), engine, c_data);
  matmul.execute(cpu_stream(), {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  cpu_stream().wait();
}

// [frames, heads*head_dim] f32 (row stride ld) -> bf16 in query blocks of
// `block` frames, each [heads, rows, head_dim]: every product then sees plain
// dense operands, which is what oneDNN's AMX brgemm kernels take (strided
// views fall back to a generic GEMM that emulates bf16 slowly).
__attribute__((target("avx512f,avx512bw,avx512vl"))) void to_bf16_blocks(
    const float* x, int64_t ld, int64_t frames, int64_t block, int64_t heads, int64_t head_dim,
    uint16_t* y) {
#pragma omp parallel for schedule(static) if (frames * heads * head_dim >= (1 << 15))
  for (int64_t t = 0; t < frames; ++t) {
    const int64_t first = t / block * block, rows = std::min(block, frames - first);
    uint16_t* base = y + first * heads * head_dim + (t - first) * head_dim;
    for (int64_t h = 0; h < heads; ++h)
      avx512::to_bf16_n(x + t * ld + h * head_dim, head_dim, base + h * rows * head_dim);
  }
}

// [heads, rows, head_dim] × 1/Σ of each (head, row) -> rows of out (row
// stride ld_out): the softmax's normalisation, applied to head_dim values per
// row instead of to every key's probability.
__attribute__((target("avx512f"))) void scatter_heads(const float* context, const float* inv_sums,
                                                      int64_t rows, int64_t heads, int64_t head_dim,
                                                      float* out, int64_t ld_out) {
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t r = 0; r < rows; ++r) {
      const float* src = context + (h * rows + r) * head_dim;
      float* dst = out + r * ld_out + h * head_dim;
      const __m512 inv = _mm512_set1_ps(inv_sums[h * rows + r]);
      for (int64_t d = 0; d < head_dim; d += 16) {
        const __mmask16 m = avx512::tail_mask(head_dim - d);
        _mm512_mask_storeu_ps(dst + d, m, _mm512_mul_ps(inv, _mm512_maskz_loadu_ps(m, src + d)));
      }
    }
  }
}

void self_attention_bf16(const float* q, const float* k, const float* v, int64_t ld, int64_t frames,
                         int64_t valid, int64_t heads, int64_t head_dim, float scale, float* out,
                         int64_t ld_out, AlignedBuffer& scratch) {
  const int64_t keys = frames;
  const int64_t block = std::min(query_block(heads, keys), frames);
  const int64_t per_copy = heads * frames * head_dim;  // bf16 elements of Q, K or V
  const int64_t scores_size = heads * block * keys;
  const int64_t context_size = heads * block * head_dim;
  const int64_t sums_size = (heads * block + 15) / 16 * 16;
  // floats: scores, context, 1/Σ per row, then Q, K, V and the
  // probabilities as bf16.
  scratch.reserve(static_cast<size_t>(scores_size + context_size + sums_size +
                                      (3 * per_copy + scores_size + 1) / 2));
  float* scores = scratch.data();
  float* context = scores + scores_size;
  float* inv_sums = context + context_size;
  uint16_t* q_blocks = reinterpret_cast<uint16_t*>(inv_sums + sums_size);
  uint16_t* k_heads = q_blocks + per_copy;
  uint16_t* v_heads = k_heads + per_copy;
  uint16_t* probabilities = v_heads + per_copy;
  to_bf16_blocks(q, ld, frames, block, heads, head_dim, q_blocks);
  to_bf16_blocks(k, ld, frames, frames, heads, head_dim, k_heads);
  to_bf16_blocks(v, ld, frames, frames, heads, head_dim, v_heads);
  StridedMatrix key_t{{heads, head_dim, keys}, {keys * head_dim, 1, head_dim}, dt::bf16};
  StridedMatrix value{{heads, keys, head_dim}, {keys * head_dim, head_dim, 1}, dt::bf16};
  for (int64_t start = 0; start < frames; start += block) {
    const int64_t rows = std::min(block, frames - start);
    StridedMatrix query{{heads, rows, head_dim}, {rows * head_dim, head_dim, 1}, dt::bf16};
    StridedMatrix score{{heads, rows, keys}, {rows * keys, keys, 1}};
    run_matmul(query, q_blocks + start * heads * head_dim, key_t, k_heads, score, scores, scale);
    exp_rows_prefix_bf16(scores, heads * rows, valid, keys, probabilities, inv_sums);
    StridedMatrix probability{{heads, rows, keys}, {rows * keys, keys, 1}, dt::bf16};
    StridedMatrix dense_context{{heads, rows, head_dim}, {rows * head_dim, head_dim, 1}};
    run_matmul(probability, probabilities, value, v_heads, dense_context, context, 1.0f);
    scatter_heads(context, inv_sums, rows, heads, head_dim, out + start * ld_out, ld_out);
  }
}

}  // namespace

bool bf16_attention_available() {
  static const bool available =
      isa_level() >= IsaLevel::kAvx512 &&
      onednn_isa_is_one_of(
          {dnnl::cpu_isa::avx512_core_bf16, dnnl::cpu_isa::avx512_core_amx, dnnl::cpu_isa::all});
  return available;
}

void self_attention(const float* q, const float* k, const float* v, int64_t ld, int64_t frames,
                    int64_t valid_frames, int64_t heads, int64_t head_dim, float scale, float* out,
                    int64_t ld_out, AlignedBuffer& scratch, AttentionPrecision precision) {
  if (frames == 0) return;
  // All frames take part in the products (stable shapes); keys past
  // valid_frames get probability 0.
  const int64_t keys = frames;
  const int64_t valid = std::max<int64_t>(1, std::min(valid_frames, frames));
  if (precision == AttentionPrecision::kBf16 && bf16_attention_available()) {
    self_attention_bf16(q, k, v, ld, frames, valid, heads, head_dim, scale, out, ld_out, scratch);
    return;
  }
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
