#include "kernels/attention_amx.h"

#include <immintrin.h>

// GCC 12's AVX-512 headers build some intrinsics from an undefined vector.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cstring>

#include "kernels/amx_tiles.h"
#include "kernels/elementwise.h"
#include "kernels/vector_math_avx512.h"

namespace quasr::kernels {
namespace {

constexpr int64_t kTile = 16;         // rows of every tile; keys per score tile
constexpr int64_t kKeyBlock = 32;     // keys per probability tile (bf16 pairs)
constexpr int64_t kTilesPerTask = 4;  // query tiles one task runs for its head

int64_t round_up(int64_t x, int64_t to) {
  return (x + to - 1) / to * to;
}

struct Geometry {
  int64_t heads, head_dim, query_rows, key_rows;
  // First dword of K's tile (head, 16-key tile kt, 32-dim half).
  int64_t k_tile(int64_t h, int64_t kt, int64_t half) const {
    return ((h * (key_rows / kTile) + kt) * (head_dim / 32) + half) * kTile * kTile;
  }
  // First bf16 of V's tile (head, 32-key block kb, 16-dim tile dt).
  int64_t v_tile(int64_t h, int64_t kb, int64_t dt) const {
    return ((h * (key_rows / kKeyBlock) + kb) * (head_dim / 16) + dt) * kTile * 32;
  }
};

// Per-thread buffers of a pair of query tiles. Rows of scores and
// probabilities are padded by a cache line: with a power-of-two stride the
// 16 rows of a tile would share two L1 sets.
struct TileBuffers {
  AlignedBuffer scores;         // [2][16][key_rows + 16] f32
  AlignedBuffer probabilities;  // [2][16][key_rows + 32] bf16
  AlignedBuffer context;        // [2][16][head_dim] f32
};

struct TilePair {
  bool second;                               // the pair has a second tile
  int64_t keys;                              // keys scored: valid rounded up to 32
  int64_t score_stride, probability_stride;  // elements
};

// Scores of one or two 16-query tiles (a: tiles 0, 1 = dims 0-31, 32-63;
// b: tiles 6, 7) against keys [0, keys), each K tile loaded once for both.
__attribute__((target("amx-tile,amx-bf16"))) void score_tiles(const uint16_t* q, const uint32_t* k,
                                                              const Geometry& g, int64_t h,
                                                              const TilePair& pair, float* scores) {
  const int64_t q_stride = g.head_dim * 2, s_stride = pair.score_stride * 4;
  const bool wide = g.head_dim == 64;
  const uint16_t* q_b = q + kTile * g.head_dim;
  float* scores_b = scores + kTile * pair.score_stride;
  _tile_loadd(0, q, q_stride);
  if (wide) _tile_loadd(1, q + 32, q_stride);
  if (pair.second) {
    _tile_loadd(6, q_b, q_stride);
    if (wide) _tile_loadd(7, q_b + 32, q_stride);
  }
  for (int64_t kt = 0; kt < pair.keys / kTile; ++kt) {
    _tile_zero(4);
    _tile_zero(5);
    _tile_loadd(2, k + g.k_tile(h, kt, 0), 64);
    _tile_dpbf16ps(4, 0, 2);
    if (pair.second) _tile_dpbf16ps(5, 6, 2);
    if (wide) {
      _tile_loadd(3, k + g.k_tile(h, kt, 1), 64);
      _tile_dpbf16ps(4, 1, 3);
      if (pair.second) _tile_dpbf16ps(5, 7, 3);
    }
    _tile_stored(4, scores + kt * kTile, s_stride);
    if (pair.second) _tile_stored(5, scores_b + kt * kTile, s_stride);
  }
}

// Softmax numerators of each score row over keys [0, valid) at bf16
// precision into probabilities (zero up to keys), 1 / Σ into inv_sums.
void exp_rows(const float* scores, int64_t rows, int64_t valid, const TilePair& pair, float scale,
              uint16_t* probabilities, float* inv_sums) {
  for (int64_t r = 0; r < rows; ++r)
    inv_sums[r] = exp_row_prefix_bf16(scores + r * pair.score_stride, valid, pair.keys, scale,
                                      probabilities + r * pair.probability_stride);
}

// One 16-dim pair (dt, dt + 1) of the context of one or two query tiles:
// probabilities (tiles 0, 1) x V, accumulators 4, 5 (a) and 6, 7 (b).
__attribute__((target("amx-tile,amx-bf16"))) void context_dims(const uint16_t* probabilities,
                                                               const uint16_t* v, const Geometry& g,
                                                               int64_t h, const TilePair& pair,
                                                               int64_t dt, float* context) {
  const int64_t p_stride = pair.probability_stride * 2, c_stride = g.head_dim * 4;
  const uint16_t* probabilities_b = probabilities + kTile * pair.probability_stride;
  _tile_zero(4);
  _tile_zero(5);
  _tile_zero(6);
  _tile_zero(7);
  for (int64_t kb = 0; kb < pair.keys / kKeyBlock; ++kb) {
    _tile_loadd(0, probabilities + kb * kKeyBlock, p_stride);
    if (pair.second) _tile_loadd(1, probabilities_b + kb * kKeyBlock, p_stride);
    _tile_loadd(2, v + g.v_tile(h, kb, dt), 64);
    _tile_loadd(3, v + g.v_tile(h, kb, dt + 1), 64);
    _tile_dpbf16ps(4, 0, 2);
    _tile_dpbf16ps(5, 0, 3);
    if (pair.second) {
      _tile_dpbf16ps(6, 1, 2);
      _tile_dpbf16ps(7, 1, 3);
    }
  }
  float* context_b = context + kTile * g.head_dim;
  _tile_stored(4, context + dt * 16, c_stride);
  _tile_stored(5, context + dt * 16 + 16, c_stride);
  if (pair.second) {
    _tile_stored(6, context_b + dt * 16, c_stride);
    _tile_stored(7, context_b + dt * 16 + 16, c_stride);
  }
}

__attribute__((target("avx512f"))) void normalise_into(const float* context, const float* inv_sums,
                                                       int64_t rows, int64_t head_dim, float* out,
                                                       int64_t ld_out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t d = 0; d < head_dim; d += 16)
      _mm512_storeu_ps(
          out + r * ld_out + d,
          _mm512_mul_ps(_mm512_set1_ps(inv_sums[r]), _mm512_loadu_ps(context + r * head_dim + d)));
}

// Query tiles [first, last) of head h, two at a time.
void attend_tiles(const uint16_t* q, const uint32_t* k, const uint16_t* v, const Geometry& g,
                  int64_t h, int64_t first, int64_t last, int64_t frames, int64_t valid,
                  float scale, float* out, int64_t ld_out) {
  thread_local TileBuffers buffers;
  TilePair pair{false, round_up(valid, kKeyBlock), 0, 0};  // later keys need no work
  pair.score_stride = g.key_rows + 16;
  pair.probability_stride = g.key_rows + 32;
  buffers.scores.reserve(static_cast<size_t>(2 * kTile * pair.score_stride));
  buffers.probabilities.reserve(static_cast<size_t>(kTile * pair.probability_stride));
  buffers.context.reserve(static_cast<size_t>(2 * kTile * 64));
  auto* probabilities = reinterpret_cast<uint16_t*>(buffers.probabilities.data());
  float inv_sums[2 * kTile];
  for (int64_t tile = first; tile < last; tile += 2) {
    pair.second = tile + 1 < last;
    const int64_t row0 = tile * kTile;
    const int64_t rows = std::min((pair.second ? 2 : 1) * kTile, frames - row0);
    score_tiles(q + (h * g.query_rows + row0) * g.head_dim, k, g, h, pair, buffers.scores.data());
    exp_rows(buffers.scores.data(), pair.second ? 2 * kTile : kTile, valid, pair, scale,
             probabilities, inv_sums);
    for (int64_t dt = 0; dt < g.head_dim / 16; dt += 2)
      context_dims(probabilities, v, g, h, pair, dt, buffers.context.data());
    normalise_into(buffers.context.data(), inv_sums, rows, g.head_dim,
                   out + row0 * ld_out + h * g.head_dim, ld_out);
  }
}

// 16 keys x one 32-dim half of K rows -> the B tile of their scores.
__attribute__((target("avx512f"))) void key_tile(const uint16_t* k_rows, int64_t head_dim,
                                                 uint32_t* tile) {
  __m512i r[16];
  for (int n = 0; n < 16; ++n) r[n] = _mm512_loadu_si512(k_rows + n * head_dim);
  avx512::transpose_16x16(r);
  for (int i = 0; i < 16; ++i) _mm512_storeu_si512(tile + i * 16, r[i]);
}

}  // namespace

bool AmxAttentionInput::available() {
  static const bool usable = amx::usable(amx::Products::kBf16);
  return usable;
}

AmxAttentionInput::AmxAttentionInput(int64_t frames, int64_t heads, int64_t head_dim,
                                     AlignedBuffer& scratch)
    : frames_(frames),
      heads_(heads),
      head_dim_(head_dim),
      query_rows_(round_up(frames, kTile)),
      key_rows_(round_up(frames, kKeyBlock)) {
  const int64_t q_count = heads * query_rows_ * head_dim, kv_count = heads * key_rows_ * head_dim;
  scratch.reserve(static_cast<size_t>((q_count + 3 * kv_count + 1) / 2));
  q_ = reinterpret_cast<uint16_t*>(scratch.data());
  k_rows_ = q_ + q_count;
  k_ = reinterpret_cast<uint32_t*>(k_rows_ + kv_count);
  v_ = k_rows_ + 2 * kv_count;
  // Padding keys get probability 0, but 0 x NaN is NaN: their V must be finite.
  const Geometry g{heads, head_dim, query_rows_, key_rows_};
  if (frames % kKeyBlock == 0) return;
  for (int64_t h = 0; h < heads; ++h)
    std::memset(v_ + g.v_tile(h, key_rows_ / kKeyBlock - 1, 0), 0,
                sizeof(uint16_t) * kKeyBlock * head_dim);
}

void AmxAttentionInput::write_frame(int64_t t, const float* q, const float* k,
                                    const float* v) const {
  const int64_t width = heads_ * head_dim_;
  write_block(t, 1, 0, 0, width, q, width);
  write_block(t, 1, 1, 0, width, k, width);
  write_block(t, 1, 2, 0, width, v, width);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void AmxAttentionInput::write_block(
    int64_t t0, int64_t rows, int part, int64_t column, int64_t cols, const float* values,
    int64_t ld) const {
  const Geometry g{heads_, head_dim_, query_rows_, key_rows_};
  for (int64_t c = 0; c < cols; c += 16) {
    const int64_t h = (column + c) / head_dim_, d = (column + c) % head_dim_;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t t = t0 + r;
      const __m256i bf16 = avx512::to_bf16_native(_mm512_loadu_ps(values + r * ld + c));
      if (part == 0) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q_ + (h * query_rows_ + t) * head_dim_ + d),
                            bf16);
      } else if (part == 1) {
        _mm256_storeu_si256(
            reinterpret_cast<__m256i*>(k_rows_ + (h * key_rows_ + t) * head_dim_ + d), bf16);
      } else {
        // As write_frame: this key's half of each (key pair, dim) dword.
        const int64_t odd = t % 2;
        __m512i words = _mm512_cvtepu16_epi32(bf16);
        if (odd) words = _mm512_slli_epi32(words, 16);
        _mm512_mask_storeu_epi16(v_ + g.v_tile(h, t / kKeyBlock, d / 16) + t % kKeyBlock / 2 * 32,
                                 odd ? 0xAAAAAAAAu : 0x55555555u, words);
      }
    }
  }
}

void AmxAttentionInput::attend(int64_t valid, float scale, float* out, int64_t ld_out) const {
  if (frames_ == 0) return;
  const Geometry g{heads_, head_dim_, query_rows_, key_rows_};
  const int64_t tiles = query_rows_ / kTile;
  const int64_t chunks = (tiles + kTilesPerTask - 1) / kTilesPerTask;
  // Only the key tiles that hold valid keys are scored.
  const int64_t key_tiles = round_up(valid, kKeyBlock) / kTile;
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t item = 0; item < heads_ * key_tiles; ++item)
      key_tiles_of_head(item / key_tiles, item % key_tiles, item % key_tiles + 1);
    amx::configure_tiles();
    // Round-robin (head, query chunk) tasks: the same split on every run.
#pragma omp for schedule(static, 1)
    for (int64_t task = 0; task < heads_ * chunks; ++task) {
      const int64_t h = task % heads_, first = task / heads_ * kTilesPerTask;
      attend_tiles(q_, k_, v_, g, h, first, std::min(tiles, first + kTilesPerTask), frames_, valid,
                   scale, out, ld_out);
    }
    amx::release_tiles();
  }
}

void AmxAttentionInput::key_tiles_of_head(int64_t h, int64_t first, int64_t last) const {
  const Geometry g{heads_, head_dim_, query_rows_, key_rows_};
  for (int64_t kt = first; kt < last; ++kt)
    for (int64_t half = 0; half < head_dim_ / 32; ++half)
      key_tile(k_rows_ + (h * key_rows_ + kt * kTile) * head_dim_ + half * 32, head_dim_,
               k_ + g.k_tile(h, kt, half));
}

void AmxAttentionInput::prepare_keys(int64_t first_row, int64_t rows) const {
  for (int64_t h = 0; h < heads_; ++h)
    key_tiles_of_head(h, first_row / kTile, (first_row + rows + kTile - 1) / kTile);
}

void AmxAttentionInput::attend_rows(int64_t first_row, int64_t rows, int64_t valid, float scale,
                                    float* out, int64_t ld_out) const {
  if (rows <= 0) return;
  const Geometry g{heads_, head_dim_, query_rows_, key_rows_};
  amx::configure_tiles();
  for (int64_t h = 0; h < heads_; ++h)
    attend_tiles(q_, k_, v_, g, h, first_row / kTile, (first_row + rows + kTile - 1) / kTile,
                 frames_, valid, scale, out, ld_out);
  amx::release_tiles();
}

}  // namespace quasr::kernels
