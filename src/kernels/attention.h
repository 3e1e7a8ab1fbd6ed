// Multi-head scaled dot-product self-attention over one utterance.
//
// Layout: q, k, v are [frames, heads * head_dim] row-major with row stride
// `ld` (they may be column blocks of one fused QKV buffer); head h owns
// columns [h*head_dim, (h+1)*head_dim). out is [frames, heads*head_dim] with
// row stride ld_out. Keys at index >= valid_frames are masked (the effect of
// Hugging Face's finfo.min additive mask on every query row).
//
// Queries are processed in blocks so the score buffer is
// heads * block * frames floats, not heads * frames², which bounds memory on
// long inputs. The scratch buffer is owned by the caller and grown on demand.
#pragma once

#include <cstdint>
#include <optional>

#include "core/tensor.h"
#include "kernels/attention_amx.h"

namespace quasr::kernels {

// kBf16: Q, K, V and the probabilities rounded to bfloat16 for the two
// products (AMX / AVX512-BF16 kernels), scores, softmax and sums in f32.
// Used where quantized models allow it; runs as kFp32 on CPUs without
// native bf16 (bf16_attention_available()).
enum class AttentionPrecision { kFp32, kBf16 };

bool bf16_attention_available();

// The bf16 path with Q, K and V written into its layout by their producer,
// a frame at a time (a projection's epilogue, while the row is in cache),
// instead of by a conversion pass. Only where bf16_attention_available().
// Runs on quasr's own AMX kernel (kernels/attention_amx.h) where the CPU has
// AMX and head_dim suits it, else on oneDNN's matmuls.
class Bf16AttentionInput {
 public:
  // Lays the bf16 copies out in scratch (grown on demand, kept by the caller).
  Bf16AttentionInput(int64_t frames, int64_t heads, int64_t head_dim, AlignedBuffer& scratch);
  // Frame t of q, k and v (heads * head_dim floats each); distinct frames
  // may be written from different threads.
  void write_frame(int64_t t, const float* q, const float* k, const float* v) const;
  // AMX kernel only (runs_on_amx): AmxAttentionInput::write_block.
  void write_block(int64_t t0, int64_t rows, int part, int64_t column, int64_t cols,
                   const float* values, int64_t ld) const;
  // self_attention's result (out as there) once every frame is written.
  void attend(int64_t valid_frames, float scale, float* out, int64_t ld_out) const;
  // Whether inputs of this head size run on the AMX kernel, which has
  // attend_rows.
  static bool runs_on_amx(int64_t head_dim);
  // For callers whose threads each own frames (first_row a multiple of 16):
  // prepare_keys once this thread's frames are written, then, once every
  // thread's keys are prepared, attend_rows for the query rows it owns.
  void prepare_keys(int64_t first_row, int64_t rows) const;
  void attend_rows(int64_t first_row, int64_t rows, int64_t valid_frames, float scale, float* out,
                   int64_t ld_out) const;

 private:
  int64_t frames_, heads_, head_dim_, block_;
  std::optional<AmxAttentionInput> amx_;
  uint16_t* q_blocks_ = nullptr;
  uint16_t* k_heads_ = nullptr;
  uint16_t* v_heads_ = nullptr;
};

void self_attention(const float* q, const float* k, const float* v, int64_t ld, int64_t frames,
                    int64_t valid_frames, int64_t heads, int64_t head_dim, float scale, float* out,
                    int64_t ld_out, AlignedBuffer& scratch,
                    AttentionPrecision precision = AttentionPrecision::kFp32);

}  // namespace quasr::kernels
