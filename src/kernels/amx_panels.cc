#include "kernels/amx_panel_loop.h"

#include "kernels/vector_math_avx512.h"

namespace quasr::kernels::amx_panels {

__attribute__((target("avx512f"))) void pack_weight_panels(const int8_t* w, int64_t n,
                                                           int64_t w_stride, int64_t k_bytes,
                                                           int64_t panels, int64_t panel_bytes,
                                                           int64_t step_bytes, int8_t* out) {
  for (int64_t c0 = 0; c0 < panels * kBlock; c0 += 16) {
    const int64_t p = c0 / kBlock, half = c0 % kBlock / 16;
    for (int64_t s = 0; s < k_bytes / kTileBytes; ++s) {
      __m512i rows[16];
      for (int c = 0; c < 16; ++c)
        rows[c] = c0 + c < n ? _mm512_loadu_si512(w + (c0 + c) * w_stride + s * kTileBytes)
                             : _mm512_setzero_si512();
      avx512::transpose_16x16(rows);
      int8_t* tile = out + p * panel_bytes + s * step_bytes + half * kTileSize;
      for (int quad = 0; quad < kTileRows; ++quad)
        _mm512_storeu_si512(tile + quad * kTileBytes, rows[quad]);
    }
  }
}

}  // namespace quasr::kernels::amx_panels
