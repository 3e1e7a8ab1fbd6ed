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
// 16 x 16 blocks; values and queries = the rows of v and q, dense (the q/k/v
// buffer's row stride is a multiple of 4 KiB: rows read in place would share
// a few L1 sets).
__attribute__((target("avx512f"))) void gather_head(const float* q, const float* k, const float* v,
                                                    int64_t ld, int64_t rows, int64_t valid,
                                                    int64_t kp, int64_t head_dim, float* keys_t,
                                                    float* values, float* queries) {
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
  for (int64_t r = 0; r < rows; ++r)
    std::copy(q + r * ld, q + r * ld + head_dim, queries + r * head_dim);
}

// c[i, 16 j + l] = scale Σ_k a[i lda + k] b[k ldb + 16 j + l] for R rows
// and V vectors of columns: the register tile of both products (scores:
// queries x transposed keys; context: probabilities x values).
template <int R, int V>
__attribute__((target("avx512f,fma"))) void tile_product(const float* a, int64_t lda,
                                                         const float* b, int64_t ldb, int64_t depth,
                                                         float scale, float* c, int64_t ldc) {
  __m512 acc[R][V];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < V; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t k = 0; k < depth; ++k) {
    __m512 column[V];
    for (int j = 0; j < V; ++j) column[j] = _mm512_loadu_ps(b + k * ldb + 16 * j);
    for (int i = 0; i < R; ++i) {
      const __m512 x = _mm512_set1_ps(a[i * lda + k]);
      for (int j = 0; j < V; ++j) acc[i][j] = _mm512_fmadd_ps(x, column[j], acc[i][j]);
    }
  }
  const __m512 s = _mm512_set1_ps(scale);  // 1 for the context: exact
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < V; ++j) _mm512_storeu_ps(c + i * ldc + 16 * j, _mm512_mul_ps(acc[i][j], s));
}

// Scores of R query rows against all kp keys, 32 keys a tile.
template <int R>
void score_rows(const float* q, int64_t ld, const float* keys_t, int64_t kp, int64_t head_dim,
                float scale, float* scores) {
  int64_t c = 0;
  for (; c + 32 <= kp; c += 32)
    tile_product<R, 2>(q, ld, keys_t + c, kp, head_dim, scale, scores + c, kp);
  if (c < kp) tile_product<R, 1>(q, ld, keys_t + c, kp, head_dim, scale, scores + c, kp);
}

// out[i, :] = Σ_s p[i, s] v_s over s < valid, 6 rows a tile; D = head_dim / 16.
template <int D>
void context_rows(const float* p, int64_t rows, int64_t kp, const float* v, int64_t ld,
                  int64_t valid, float* out, int64_t ld_out) {
  int64_t i = 0;
  for (; i + kContextRows <= rows; i += kContextRows)
    tile_product<kContextRows, D>(p + i * kp, kp, v, ld, valid, 1.0f, out + i * ld_out, ld_out);
  for (; i < rows; ++i)
    tile_product<1, D>(p + i * kp, kp, v, ld, valid, 1.0f, out + i * ld_out, ld_out);
}

}  // namespace

bool f32_attention_kernel_available(int64_t head_dim) {
  return isa_level() >= IsaLevel::kAvx512 && (head_dim == 32 || head_dim == 64);
}

void attend_head_f32(const float* q, const float* k, const float* v, int64_t ld, int64_t rows,
                     int64_t valid, int64_t head_dim, float scale, float* out, int64_t ld_out) {
  thread_local HeadScratch scratch;
  const int64_t kp = (valid + 15) / 16 * 16;  // scored keys, padded with zero keys
  scratch.keys_t.reserve(static_cast<size_t>(head_dim * kp));
  scratch.values.reserve(static_cast<size_t>(valid * head_dim));
  scratch.queries.reserve(static_cast<size_t>(rows * head_dim));
  scratch.scores.reserve(static_cast<size_t>(rows * kp));
  float* keys_t = scratch.keys_t.data();
  float* values = scratch.values.data();
  float* queries = scratch.queries.data();
  gather_head(q, k, v, ld, rows, valid, kp, head_dim, keys_t, values, queries);
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
