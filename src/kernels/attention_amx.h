// Self-attention on Intel AMX tiles (bf16 products, f32 softmax and sums),
// for the bf16 attention of quantized models.
//
// Why not oneDNN: attention is two small products per (head, query block)
// with K = head_dim = 64; oneDNN 2.6 spends most of each call outside its
// AMX kernel (~28 us for 224 x 224 x 64, ~115 GMAC/s). Here one thread takes
// a head and a run of 16-query tiles from start to end: scores of a tile
// against every key (tiles of 16 keys), the softmax on those 16 rows in
// AVX-512, then probabilities x V into four 16 x 16 accumulators.
//
// The operands are laid out for the tiles by their producer, a frame at a
// time (AmxAttentionInput::write_frame): Q and K row-major, V as 32-key
// tiles with consecutive keys paired (the B operand of the context). attend()
// first transposes K into 16-key tiles of bf16 pairs along the head
// dimension (the B operand of the scores), 16 x 16 dwords at a time.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace quasr::kernels {

class AmxAttentionInput {
 public:
  // CPU with AMX-BF16 and AVX512-BF16, tile data granted by the kernel, and
  // QUASR_AMX unset or not 0 (QUASR_AMX=0 keeps the oneDNN path, to compare).
  static bool available();
  static bool supports(int64_t head_dim) { return head_dim == 32 || head_dim == 64; }

  // Lays the operands out in scratch (grown on demand, kept by the caller)
  // and zeroes the padding keys.
  AmxAttentionInput(int64_t frames, int64_t heads, int64_t head_dim, AlignedBuffer& scratch);
  // Frame t of q, k and v (heads * head_dim floats each); distinct frames
  // may be written from different threads.
  void write_frame(int64_t t, const float* q, const float* k, const float* v) const;
  // Frames [t0, t0 + rows) of columns [column, column + cols) of q (part 0),
  // k (1) or v (2): values[r * ld + c] is column + c of frame t0 + r; column
  // and cols whole multiples of 16. For a producer that finishes its output
  // a block of rows and columns at a time.
  void write_block(int64_t t0, int64_t rows, int part, int64_t column, int64_t cols,
                   const float* values, int64_t ld) const;
  // out[t, h * head_dim + j] for every frame once all are written; keys at
  // index >= valid (1 <= valid <= frames) get probability 0.
  void attend(int64_t valid, float scale, float* out, int64_t ld_out) const;
  // For callers whose threads each own frames (first_row a multiple of 16):
  // prepare_keys once this thread's frames are written, then, once every
  // thread's keys are prepared, attend_rows for the query rows it owns (all
  // heads).
  void prepare_keys(int64_t first_row, int64_t rows) const;
  void attend_rows(int64_t first_row, int64_t rows, int64_t valid, float scale, float* out,
                   int64_t ld_out) const;

 private:
  // Key tiles [first, last) of head h from the keys' bf16 rows.
  void key_tiles_of_head(int64_t h, int64_t first, int64_t last) const;

  int64_t frames_, heads_, head_dim_;
  int64_t query_rows_;  // frames rounded up to 16
  int64_t key_rows_;    // frames rounded up to 32
  uint16_t* q_;         // [heads][query_rows][head_dim]
  uint16_t* k_rows_;    // [heads][key_rows][head_dim]
  uint32_t* k_;         // [heads][key_rows / 16][head_dim / 32][16 pairs][16 keys]
  uint16_t* v_;         // [heads][key_rows / 32][head_dim / 16][16 key pairs][16 dims][2]
};

}  // namespace quasr::kernels
