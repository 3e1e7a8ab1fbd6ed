#include "kernels/attention.h"

#include <immintrin.h>

// GCC 12's AVX-512 shift intrinsics start from an undefined vector.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <array>
#include <bit>
#include <map>
#include <unordered_map>
#include <vector>

#include "core/cpu_features.h"
#include "core/error.h"
#include "kernels/attention_f32.h"
#include "kernels/dnnl_runtime.h"
#include "kernels/elementwise.h"
#include "kernels/vector_math_avx512.h"

namespace quasr::kernels {
namespace {

using dt = dnnl::memory::data_type;
using dims = dnnl::memory::dims;

constexpr int64_t kQueryBlock = 256;
constexpr size_t kMaxCachedShapes = 256;

// All frames take part in the products (stable shapes); keys past
// valid_frames get probability 0, and at least one key stays valid.
int64_t valid_keys(int64_t valid_frames, int64_t frames) {
  return std::max<int64_t>(1, std::min(valid_frames, frames));
}

struct StridedMatrix {
  dims shape;
  dims strides;
  dt type = dt::f32;
  dnnl::memory::desc desc() const { return {shape, type, strides}; }
};

// A matmul primitive with its argument memories, per thread and geometry:
// a call only swaps data pointers. Creating the dnnl::memory objects, the
// argument map and the cache key per call cost ~10 us, and attention makes
// two calls per (query block, head): 1,500 per 10 s of audio on large.
struct PreparedMatmul {
  dnnl::matmul primitive;
  dnnl::memory a, b, c;
  std::vector<uint8_t> scratchpad;
  std::unordered_map<int, dnnl::memory> args;
};

using GeometryKey = std::array<int64_t, 20>;

GeometryKey geometry_key(const StridedMatrix& a, const StridedMatrix& b, const StridedMatrix& c,
                         float scale) {
  GeometryKey key{};
  size_t i = 0;
  for (const StridedMatrix* m : {&a, &b, &c}) {
    for (size_t d = 0; d < 3; ++d) key[i++] = m->shape[d];
    for (size_t d = 0; d < 3; ++d) key[i++] = m->strides[d];
  }
  key[i++] = static_cast<int64_t>(a.type);
  key[i] = std::bit_cast<int32_t>(scale);
  return key;
}

PreparedMatmul make_prepared(const StridedMatrix& a, const StridedMatrix& b, const StridedMatrix& c,
                             float scale) {
  dnnl::primitive_attr attr;
  if (scale != 1.0f) attr.set_output_scales(0, {scale});
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a.desc(), b.desc(), c.desc()),
                                  user_scratchpad(attr), cpu_engine());
  auto& engine = cpu_engine();
  PreparedMatmul p{dnnl::matmul(pd),
                   dnnl::memory(a.desc(), engine, nullptr),
                   dnnl::memory(b.desc(), engine, nullptr),
                   dnnl::memory(c.desc(), engine, nullptr),
                   {},
                   {}};
  // Its own buffer: the argument map keeps pointing at it.
  uint8_t* aligned = page_aligned(p.scratchpad, pd.scratchpad_desc().get_size());
  p.args = {{DNNL_ARG_SRC, p.a},
            {DNNL_ARG_WEIGHTS, p.b},
            {DNNL_ARG_DST, p.c},
            {DNNL_ARG_SCRATCHPAD, dnnl::memory(pd.scratchpad_desc(), engine, aligned)}};
  return p;
}

void run_matmul(const StridedMatrix& a, const void* a_data, const StridedMatrix& b,
                const void* b_data, const StridedMatrix& c, float* c_data, float scale) {
  thread_local std::map<GeometryKey, PreparedMatmul> prepared;
  const GeometryKey key = geometry_key(a, b, c, scale);
  auto found = prepared.find(key);
  if (found == prepared.end()) {
    // Bounded: every utterance length is a new geometry.
    if (prepared.size() >= kMaxCachedShapes) prepared.clear();
    found = prepared.emplace(key, make_prepared(a, b, c, scale)).first;
  }
  PreparedMatmul& matmul = found->second;
  matmul.a.set_data_handle(const_cast<void*>(a_data));
  matmul.b.set_data_handle(const_cast<void*>(b_data));
  matmul.c.set_data_handle(c_data);
  matmul.primitive.execute(cpu_stream(), matmul.args);
  cpu_stream().wait();
}

// One frame (heads*head_dim f32) -> bf16 in blocks of `block` frames, each
// [heads, rows, head_dim]: every product then sees plain dense operands,
// which is what oneDNN's AMX brgemm kernels take (strided views fall back to
// a generic GEMM that emulates bf16 slowly).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void frame_to_bf16_blocks(
    const float* frame, int64_t t, int64_t frames, int64_t block, int64_t heads, int64_t head_dim,
    uint16_t* y) {
  const int64_t first = t / block * block, rows = std::min(block, frames - first);
  uint16_t* base = y + first * heads * head_dim + (t - first) * head_dim;
  for (int64_t h = 0; h < heads; ++h)
    avx512::to_bf16_n(frame + h * head_dim, head_dim, base + h * rows * head_dim);
}

// [rows, head_dim] × 1/Σ of each row -> rows of out (row stride ld_out): the
// softmax's normalisation, applied to head_dim values per row instead of to
// every key's probability.
__attribute__((target("avx512f"))) void normalise_rows_into(const float* context,
                                                            const float* inv_sums, int64_t rows,
                                                            int64_t head_dim, float* out,
                                                            int64_t ld_out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = context + r * head_dim;
    float* dst = out + r * ld_out;
    const __m512 inv = _mm512_set1_ps(inv_sums[r]);
    for (int64_t d = 0; d < head_dim; d += 16) {
      const __mmask16 m = avx512::tail_mask(head_dim - d);
      _mm512_mask_storeu_ps(dst + d, m, _mm512_mul_ps(inv, _mm512_maskz_loadu_ps(m, src + d)));
    }
  }
}

// One head of one query block, start to finish on the calling thread, its
// scores (rows × keys floats) and probabilities in L2: with every head's
// scores in one block (8 MiB at 512 frames, 16 heads) the softmax read them
// back from L3.
struct HeadBuffers {
  AlignedBuffer scores;
  AlignedBuffer probabilities;  // bf16, half the floats
  AlignedBuffer context;
  AlignedBuffer inv_sums;
};

// Buffers are sized for a full block (block_rows), whatever this task's
// rows: then a thread that ran any task of an input never grows them for
// the same or a shorter input (steady state: no allocation).
void attend_one_head(const uint16_t* query, const uint16_t* key, const uint16_t* value,
                     int64_t rows, int64_t block_rows, int64_t keys, int64_t valid,
                     int64_t head_dim, float scale, float* out, int64_t ld_out) {
  thread_local HeadBuffers buffers;
  buffers.scores.reserve(static_cast<size_t>(block_rows * keys));
  buffers.probabilities.reserve(static_cast<size_t>((block_rows * keys + 1) / 2));
  buffers.context.reserve(static_cast<size_t>(block_rows * head_dim));
  buffers.inv_sums.reserve(static_cast<size_t>(block_rows));
  auto* probabilities = reinterpret_cast<uint16_t*>(buffers.probabilities.data());
  const StridedMatrix q{{1, rows, head_dim}, {rows * head_dim, head_dim, 1}, dt::bf16};
  const StridedMatrix k_t{{1, head_dim, keys}, {keys * head_dim, 1, head_dim}, dt::bf16};
  const StridedMatrix v{{1, keys, head_dim}, {keys * head_dim, head_dim, 1}, dt::bf16};
  const StridedMatrix score{{1, rows, keys}, {rows * keys, keys, 1}};
  const StridedMatrix p{{1, rows, keys}, {rows * keys, keys, 1}, dt::bf16};
  const StridedMatrix context{{1, rows, head_dim}, {rows * head_dim, head_dim, 1}};
  run_matmul(q, query, k_t, key, score, buffers.scores.data(), scale);
  exp_rows_prefix_bf16(buffers.scores.data(), rows, valid, keys, probabilities,
                       buffers.inv_sums.data());
  run_matmul(p, probabilities, v, value, context, buffers.context.data(), 1.0f);
  normalise_rows_into(buffers.context.data(), buffers.inv_sums.data(), rows, head_dim, out, ld_out);
}

// fp32: Q, K and V are read in place (strided views of the frame layout).
void attend_one_head_f32(const float* q, const float* k, const float* v, int64_t ld, int64_t rows,
                         int64_t block_rows, int64_t keys, int64_t valid, int64_t head_dim,
                         float scale, float* out, int64_t ld_out) {
  if (f32_attention_kernel_available(head_dim))
    return attend_head_f32(q, k, v, ld, rows, valid, head_dim, scale, out, ld_out);
  thread_local AlignedBuffer scores;
  scores.reserve(static_cast<size_t>(block_rows * keys));
  const StridedMatrix query{{1, rows, head_dim}, {rows * ld, ld, 1}};
  const StridedMatrix key_t{{1, head_dim, keys}, {keys * ld, 1, ld}};
  const StridedMatrix value{{1, keys, head_dim}, {keys * ld, ld, 1}};
  const StridedMatrix score{{1, rows, keys}, {rows * keys, keys, 1}};
  const StridedMatrix context{{1, rows, head_dim}, {rows * ld_out, ld_out, 1}};
  run_matmul(query, q, key_t, k, score, scores.data(), scale);
  softmax_rows_prefix(scores.data(), rows, valid, keys);
  run_matmul(score, scores.data(), value, v, context, out, 1.0f);
}

}  // namespace

bool bf16_attention_available() {
  // Native bf16 in the CPU as well: quasr's own conversions use it.
  static const bool available =
      isa_level() >= IsaLevel::kAvx512 && __builtin_cpu_supports("avx512bf16") &&
      onednn_isa_is_one_of(
          {dnnl::cpu_isa::avx512_core_bf16, dnnl::cpu_isa::avx512_core_amx, dnnl::cpu_isa::all});
  return available;
}

Bf16AttentionInput::Bf16AttentionInput(int64_t frames, int64_t heads, int64_t head_dim,
                                       AlignedBuffer& scratch)
    : frames_(frames), heads_(heads), head_dim_(head_dim), block_(std::min(kQueryBlock, frames)) {
  if (runs_on_amx(head_dim)) {
    amx_.emplace(frames, heads, head_dim, scratch);
    return;
  }
  const int64_t per_copy = heads * frames * head_dim;  // bf16 elements of Q, K or V
  scratch.reserve(static_cast<size_t>((3 * per_copy + 1) / 2));
  q_blocks_ = reinterpret_cast<uint16_t*>(scratch.data());
  k_heads_ = q_blocks_ + per_copy;
  v_heads_ = k_heads_ + per_copy;
}

void Bf16AttentionInput::write_frame(int64_t t, const float* q, const float* k,
                                     const float* v) const {
  if (amx_) return amx_->write_frame(t, q, k, v);
  // q in query blocks, k and v whole (one block of all frames).
  frame_to_bf16_blocks(q, t, frames_, block_, heads_, head_dim_, q_blocks_);
  frame_to_bf16_blocks(k, t, frames_, frames_, heads_, head_dim_, k_heads_);
  frame_to_bf16_blocks(v, t, frames_, frames_, heads_, head_dim_, v_heads_);
}

void Bf16AttentionInput::write_block(int64_t t0, int64_t rows, int part, int64_t column,
                                     int64_t cols, const float* values, int64_t ld) const {
  if (!amx_) throw Error("Bf16AttentionInput::write_block needs the AMX kernel");
  amx_->write_block(t0, rows, part, column, cols, values, ld);
}

bool Bf16AttentionInput::runs_on_amx(int64_t head_dim) {
  return AmxAttentionInput::available() && AmxAttentionInput::supports(head_dim);
}

void Bf16AttentionInput::prepare_keys(int64_t first_row, int64_t rows) const {
  if (!amx_) throw Error("Bf16AttentionInput::prepare_keys needs the AMX kernel");
  amx_->prepare_keys(first_row, rows);
}

void Bf16AttentionInput::attend_rows(int64_t first_row, int64_t rows, int64_t valid_frames,
                                     float scale, float* out, int64_t ld_out) const {
  if (!amx_) throw Error("Bf16AttentionInput::attend_rows needs the AMX kernel");
  if (frames_ > 0)
    amx_->attend_rows(first_row, rows, valid_keys(valid_frames, frames_), scale, out, ld_out);
}

void Bf16AttentionInput::attend(int64_t valid_frames, float scale, float* out,
                                int64_t ld_out) const {
  if (frames_ == 0) return;
  const int64_t valid = valid_keys(valid_frames, frames_);
  if (amx_) return amx_->attend(valid, scale, out, ld_out);
  const int64_t keys = frames_, heads = heads_, head_dim = head_dim_, block = block_;
  const int64_t blocks = (frames_ + block - 1) / block;
  // Each task a (query block, head) on one thread; oneDNN runs sequentially
  // inside the parallel region. Round-robin: every thread gets heads of
  // every block (a short last block does not land on one thread), and the
  // same tasks on every run of an input.
#pragma omp parallel for schedule(static, 1)
  for (int64_t task = 0; task < blocks * heads; ++task) {
    const int64_t start = task / heads * block, h = task % heads;
    const int64_t rows = std::min(block, frames_ - start);
    attend_one_head(q_blocks_ + start * heads * head_dim + h * rows * head_dim,
                    k_heads_ + h * keys * head_dim, v_heads_ + h * keys * head_dim, rows, block,
                    keys, valid, head_dim, scale, out + start * ld_out + h * head_dim, ld_out);
  }
}

void self_attention(const float* q, const float* k, const float* v, int64_t ld, int64_t frames,
                    int64_t valid_frames, int64_t heads, int64_t head_dim, float scale, float* out,
                    int64_t ld_out, AlignedBuffer& scratch, AttentionPrecision precision) {
  if (frames == 0) return;
  if (precision == AttentionPrecision::kBf16 && bf16_attention_available()) {
    const Bf16AttentionInput input(frames, heads, head_dim, scratch);
#pragma omp parallel for schedule(static) if (frames * heads * head_dim >= (1 << 14))
    for (int64_t t = 0; t < frames; ++t) input.write_frame(t, q + t * ld, k + t * ld, v + t * ld);
    input.attend(valid_frames, scale, out, ld_out);
    return;
  }
  const int64_t keys = frames, valid = valid_keys(valid_frames, frames);
  const int64_t block = std::min(kQueryBlock, frames);
  const int64_t blocks = (frames + block - 1) / block;
  // As the bf16 path: one (query block, head) per task, its scores in L2.
#pragma omp parallel for schedule(static, 1)
  for (int64_t task = 0; task < blocks * heads; ++task) {
    const int64_t start = task / heads * block, h = task % heads;
    const int64_t rows = std::min(block, frames - start);
    attend_one_head_f32(q + start * ld + h * head_dim, k + h * head_dim, v + h * head_dim, ld, rows,
                        block, keys, valid, head_dim, scale, out + start * ld_out + h * head_dim,
                        ld_out);
  }
}

}  // namespace quasr::kernels
