// Intel AMX for quasr's own kernels: whether this process may use the tiles,
// and the one tile shape every kernel here uses (16 rows x 64 bytes).
#pragma once

namespace quasr::kernels::amx {

enum class Products { kBf16, kInt8 };

// The CPU has AMX-TILE and the given products (plus AVX-512 for the code
// around them, and AVX512-BF16 for bf16), quasr's ISA level is AVX-512 or
// above, Linux granted the tile data to this process, and QUASR_AMX is unset
// or not 0 (QUASR_AMX=0 keeps the oneDNN paths, to compare).
bool usable(Products products);

// Palette 1 with tiles 0-7 all 16 rows x 64 bytes, on the calling thread;
// release() hands the tile state back (cheaper context switches).
void configure_tiles();
void release_tiles();

}  // namespace quasr::kernels::amx
