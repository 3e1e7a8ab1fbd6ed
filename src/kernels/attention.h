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

#include "core/tensor.h"

namespace quasr::kernels {

void self_attention(const float* q, const float* k, const float* v, int64_t ld, int64_t frames,
                    int64_t valid_frames, int64_t heads, int64_t head_dim, float scale, float* out,
                    int64_t ld_out, AlignedBuffer& scratch);

}  // namespace quasr::kernels
