// fp32 self-attention of one head over a block of queries, on AVX-512 or
// AVX2 register tiles (the fp32 models' attention, and the quantized ones'
// where the CPU lacks native bf16; bf16 has attention_amx.h).
//
// Why not oneDNN: q, k and v are strided column blocks of the q/k/v buffer,
// and oneDNN 2.6 runs such views on its generic gemm:jit at ~50 GMAC/s here.
// This kernel transposes the head's keys once per block (so 16 keys sit in
// one vector), forms scores in 8 x 32 register tiles, softmax as before
// (softmax_rows_prefix), then probabilities x V in 6 x head_dim tiles.
#pragma once

#include <cstdint>

namespace quasr::kernels {

// AVX2 or AVX-512 (quasr's ISA level) and a head size the tiles take.
bool f32_attention_kernel_available(int64_t head_dim);

// out[i, :head_dim] (row stride ld_out) = softmax(scale q_i · k_s over
// s < valid) · v for query rows i < rows; q, k, v rows have stride ld and
// this head's columns start at each pointer; k and v have at least valid
// (>= 1) rows.
void attend_head_f32(const float* q, const float* k, const float* v, int64_t ld, int64_t rows,
                     int64_t valid, int64_t head_dim, float scale, float* out, int64_t ld_out);

}  // namespace quasr::kernels
