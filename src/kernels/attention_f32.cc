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

// dst [rows, width] dense = the first width columns of src's rows (ld apart).
void copy_dense_rows(const float* src, int64_t ld, int64_t rows, int64_t width, float* dst) {
  for (int64_t r = 0; r < rows; ++r) std::copy(src + r * ld, src + r * ld + width, dst + r * width);
}

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
  copy_dense_rows(v, ld, valid, head_dim, values);
  copy_dense_rows(q, ld, rows, head_dim, queries);
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

// The AVX2 kernel: the same steps eight lanes wide, for CPUs without
// AVX-512 (where oneDNN's strided matmuls ran at 14-24 GMAC/s a core and
// this at 29-32: quasr_attention_bench 'Large.*bf16:0'). Both products use
// 6 x 16 register tiles (12 accumulators of the 16 registers).
constexpr int64_t kScoreRowsAvx2 = 6;

// Named accumulators, not an array: GCC kept an __m256 acc[R][V] array on
// the stack (a load and a store per FMA), the kernel then ran at 11 GMAC/s.
template <int R, int V>
__attribute__((target("avx2,fma"))) void tile_product_avx2(const float* a, int64_t lda,
                                                           const float* b, int64_t ldb,
                                                           int64_t depth, float scale, float* c,
                                                           int64_t ldc) {
  static_assert(R * V <= 12 && V <= 4);
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
         a8 = a0, a9 = a0, a10 = a0, a11 = a0;
  __m256* acc[12] = {&a0, &a1, &a2, &a3, &a4, &a5, &a6, &a7, &a8, &a9, &a10, &a11};
  for (int64_t k = 0; k < depth; ++k) {
    const __m256 c0 = _mm256_loadu_ps(b + k * ldb);
    const __m256 c1 = V > 1 ? _mm256_loadu_ps(b + k * ldb + 8) : c0;
    const __m256 c2 = V > 2 ? _mm256_loadu_ps(b + k * ldb + 16) : c0;
    const __m256 c3 = V > 3 ? _mm256_loadu_ps(b + k * ldb + 24) : c0;
    const __m256 column[4] = {c0, c1, c2, c3};
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m256 x = _mm256_broadcast_ss(a + i * lda + k);
#pragma GCC unroll 4
      for (int j = 0; j < V; ++j) *acc[i * V + j] = _mm256_fmadd_ps(x, column[j], *acc[i * V + j]);
    }
  }
  const __m256 s = _mm256_set1_ps(scale);
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < V; ++j)
      _mm256_storeu_ps(c + i * ldc + 8 * j, _mm256_mul_ps(*acc[i * V + j], s));
}

// r[i] = row i of an 8 x 8 block -> r[i] = column i.
__attribute__((target("avx2"))) inline void transpose_8x8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

// gather_head with keys_t rows ks apart, transposed 8 x 8 at a time.
__attribute__((target("avx2"))) void gather_head_avx2(const float* q, const float* k,
                                                      const float* v, int64_t ld, int64_t rows,
                                                      int64_t valid, int64_t kp, int64_t ks,
                                                      int64_t head_dim, float* keys_t,
                                                      float* values, float* queries) {
  for (int64_t s0 = 0; s0 < kp; s0 += 8) {
    for (int64_t d0 = 0; d0 < head_dim; d0 += 8) {
      __m256 r[8];
      for (int64_t i = 0; i < 8; ++i)
        r[i] = s0 + i < valid ? _mm256_loadu_ps(k + (s0 + i) * ld + d0) : _mm256_setzero_ps();
      transpose_8x8(r);
      for (int64_t i = 0; i < 8; ++i) _mm256_storeu_ps(keys_t + (d0 + i) * ks + s0, r[i]);
    }
  }
  copy_dense_rows(v, ld, valid, head_dim, values);
  copy_dense_rows(q, ld, rows, head_dim, queries);
}

template <int R>
void score_rows_avx2(const float* q, int64_t ld, const float* keys_t, int64_t kp, int64_t ks,
                     int64_t head_dim, float scale, float* scores) {
  for (int64_t c = 0; c < kp; c += 16)
    tile_product_avx2<R, 2>(q, ld, keys_t + c, ks, head_dim, scale, scores + c, kp);
}

// out[i, :] = Σ_s p[i, s] v_s, 6 rows and 16 columns a tile: each pass over
// the values serves 6 rows (with 2 rows x 32 columns the values' stream from
// L2 bounded the tile).
void context_rows_avx2(const float* p, int64_t rows, int64_t kp, const float* v, int64_t head_dim,
                       int64_t valid, float* out, int64_t ld_out) {
  for (int64_t col = 0; col < head_dim; col += 16) {
    int64_t i = 0;
    for (; i + kScoreRowsAvx2 <= rows; i += kScoreRowsAvx2)
      tile_product_avx2<kScoreRowsAvx2, 2>(p + i * kp, kp, v + col, head_dim, valid, 1.0f,
                                           out + i * ld_out + col, ld_out);
    for (; i < rows; ++i)
      tile_product_avx2<1, 2>(p + i * kp, kp, v + col, head_dim, valid, 1.0f,
                              out + i * ld_out + col, ld_out);
  }
}

void scores_avx2(const float* queries, int64_t rows, const float* keys_t, int64_t kp, int64_t ks,
                 int64_t head_dim, float scale, float* scores) {
  int64_t i = 0;
  for (; i + kScoreRowsAvx2 <= rows; i += kScoreRowsAvx2)
    score_rows_avx2<kScoreRowsAvx2>(queries + i * head_dim, head_dim, keys_t, kp, ks, head_dim,
                                    scale, scores + i * kp);
  for (; i < rows; ++i)
    score_rows_avx2<1>(queries + i * head_dim, head_dim, keys_t, kp, ks, head_dim, scale,
                       scores + i * kp);
}

}  // namespace

bool f32_attention_kernel_available(int64_t head_dim) {
  return isa_level() >= IsaLevel::kAvx2 && (head_dim == 32 || head_dim == 64);
}

void attend_head_f32(const float* q, const float* k, const float* v, int64_t ld, int64_t rows,
                     int64_t valid, int64_t head_dim, float scale, float* out, int64_t ld_out) {
  thread_local HeadScratch scratch;
  const int64_t kp = (valid + 15) / 16 * 16;  // scored keys, padded with zero keys
  // The AVX2 path reads a column of keys_t per step: rows kp floats apart
  // (often a multiple of 2 KiB) would share two L1 sets, so they are 16 more.
  const int64_t ks = kp + 16;
  scratch.keys_t.reserve(static_cast<size_t>(head_dim * ks));
  scratch.values.reserve(static_cast<size_t>(valid * head_dim));
  scratch.queries.reserve(static_cast<size_t>(rows * head_dim));
  scratch.scores.reserve(static_cast<size_t>(rows * kp));
  float* keys_t = scratch.keys_t.data();
  float* values = scratch.values.data();
  float* queries = scratch.queries.data();
  float* scores = scratch.scores.data();
  if (isa_level() < IsaLevel::kAvx512) {
    gather_head_avx2(q, k, v, ld, rows, valid, kp, ks, head_dim, keys_t, values, queries);
    scores_avx2(queries, rows, keys_t, kp, ks, head_dim, scale, scores);
    softmax_rows_prefix(scores, rows, valid, kp);
    return context_rows_avx2(scores, rows, kp, values, head_dim, valid, out, ld_out);
  }
  gather_head(q, k, v, ld, rows, valid, kp, head_dim, keys_t, values, queries);
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
