#include "kernels/attention_f32.h"

#include <immintrin.h>

#include <algorithm>

#include "core/cpu_features.h"
#include "core/tensor.h"
#include "kernels/elementwise.h"
#include "kernels/vector_math_avx512.h"

namespace quasr::kernels {
namespace {

constexpr int64_t kScoreRows = 8;    // query rows per score tile
constexpr int64_t kContextRows = 6;  // query rows per context tile

struct HeadScratch {
  AlignedBuffer keys_t;   // [head_dim][padded keys]
  AlignedBuffer values;   // [valid keys][head_dim], dense
  AlignedBuffer queries;  // [rows][head_dim], dense
  AlignedBuffer scores;   // [rows][padded keys]
};

// keys_t[d, s] = k[s, d] for s < valid, 0 up to kp (a multiple of 16), in
// 16 x 16 blocks; values = v's rows, dense (the q/k/v buffer's row stride
// is a multiple of 4 KiB: rows read in place would share a few L1 sets).
__attribute__((target("avx512f"))) void gather_head(const float* k, const float* v, int64_t ld,
                                                    int64_t valid, int64_t kp, int64_t head_dim,
                                                    float* keys_t, float* values) {
  for (int64_t s0 = 0; s0 < kp; s0 += 16) {
    for (int64_t d0 = 0; d0 < head_dim; d0 += 16) {
      __m512i r[16];
      for (int64_t i = 0; i < 16; ++i)
        r[i] = s0 + i < valid ? _mm512_loadu_si512(k + (s0 + i) * ld + d0) : _mm512_setzero_si512();
      avx512::transpose_16x16(r);
      for (int64_t i = 0; i < 16; ++i) _mm512_storeu_si512(keys_t + (d0 + i) * kp + s0, r[i]);
    }
  }
  for (int64_t s = 0; s < valid; ++s)
    for (int64_t d = 0; d < head_dim; d += 16)
      _mm512_storeu_ps(values + s * head_dim + d, _mm512_loadu_ps(v + s * ld + d));
}

// scores[i, c..c + 16 V) = scale * q_i · k_c.. for R query rows.
template <int R, int V>
__attribute__((target("avx512f,fma"))) void score_tile(const float* q, int64_t ld,
                                                       const float* keys_t, int64_t kp,
                                                       int64_t head_dim, float scale,
                                                       float* scores) {
  __m512 acc[R][V];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < V; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t d = 0; d < head_dim; ++d) {
    __m512 b[V];
    for (int j = 0; j < V; ++j) b[j] = _mm512_loadu_ps(keys_t + d * kp + 16 * j);
    for (int i = 0; i < R; ++i) {
      const __m512 a = _mm512_set1_ps(q[i * ld + d]);
      for (int j = 0; j < V; ++j) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  const __m512 s = _mm512_set1_ps(scale);
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < V; ++j)
      _mm512_storeu_ps(scores + i * kp + 16 * j, _mm512_mul_ps(acc[i][j], s));
}

template <int R>
void score_rows(const float* q, int64_t ld, const float* keys_t, int64_t kp, int64_t head_dim,
                float scale, float* scores) {
  int64_t c = 0;
  for (; c + 32 <= kp; c += 32)
    score_tile<R, 2>(q, ld, keys_t + c, kp, head_dim, scale, scores + c);
  if (c < kp) score_tile<R, 1>(q, ld, keys_t + c, kp, head_dim, scale, scores + c);
}

// out[i, :] = Σ_s p[i, s] v_s over s < valid for R rows, D = head_dim / 16 vectors.
template <int R, int D>
__attribute__((target("avx512f,fma"))) void context_tile(const float* p, int64_t kp, const float* v,
                                                         int64_t ld, int64_t valid, float* out,
                                                         int64_t ld_out) {
  __m512 acc[R][D];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < D; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t s = 0; s < valid; ++s) {
    __m512 b[D];
    for (int j = 0; j < D; ++j) b[j] = _mm512_loadu_ps(v + s * ld + 16 * j);
    for (int i = 0; i < R; ++i) {
      const __m512 a = _mm512_set1_ps(p[i * kp + s]);
      for (int j = 0; j < D; ++j) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < D; ++j) _mm512_storeu_ps(out + i * ld_out + 16 * j, acc[i][j]);
}

template <int D>
void context_rows(const float* p, int64_t rows, int64_t kp, const float* v, int64_t ld,
                  int64_t valid, float* out, int64_t ld_out) {
  int64_t i = 0;
  for (; i + kContextRows <= rows; i += kContextRows)
    context_tile<kContextRows, D>(p + i * kp, kp, v, ld, valid, out + i * ld_out, ld_out);
  for (; i < rows; ++i) context_tile<1, D>(p + i * kp, kp, v, ld, valid, out + i * ld_out, ld_out);
}

}  // namespace

bool f32_attention_kernel_available(int64_t head_dim) {
  return isa_level() >= IsaLevel::kAvx512 && (head_dim == 32 || head_dim == 64);
}

void attend_head_f32(const float* q, const float* k, const float* v, int64_t ld, int64_t rows,
                     int64_t keys, int64_t valid, int64_t head_dim, float scale, float* out,
                     int64_t ld_out) {
  thread_local HeadScratch scratch;
  valid = std::max<int64_t>(1, std::min(valid, keys));
  const int64_t kp = (valid + 15) / 16 * 16;  // scored keys, padded with zero keys
  scratch.keys_t.reserve(static_cast<size_t>(head_dim * kp));
  scratch.values.reserve(static_cast<size_t>(valid * head_dim));
  scratch.scores.reserve(static_cast<size_t>(rows * kp));
  float* keys_t = scratch.keys_t.data();
  float* values = scratch.values.data();
  gather_head(k, v, ld, valid, kp, head_dim, keys_t, values);
  scratch.queries.reserve(static_cast<size_t>(rows * head_dim));
  float* queries = scratch.queries.data();
  for (int64_t r = 0; r < rows; ++r)
    std::copy(q + r * ld, q + r * ld + head_dim, queries + r * head_dim);

  float* scores = scratch.scores.data();
  int64_t i = 0;
  for (; i + kScoreRows <= rows; i += kScoreRows)
    score_rows<kScoreRows>(queries + i * head_dim, head_dim, keys_t, kp, head_dim, scale,
                           scores + i * kp);
  for (; i < rows; ++i)
    score_rows<1>(queries + i * head_dim, head_dim, keys_t, kp, head_dim, scale, scores + i * kp);
  softmax_rows_prefix(scores, rows, valid, kp);
  if (head_dim == 64) return context_rows<4>(scores, rows, kp, values, 64, valid, out, ld_out);
  context_rows<2>(scores, rows, kp, values, 32, valid, out, ld_out);
}

}  // namespace quasr::kernels
