// CPU feature detection and the ISA level kernels dispatch on.
// QUASR_ISA=ref|avx2|avx512|avx512vnni caps the level so every path can be
// tested on one machine; it never raises the level above what the CPU has.
#pragma once

#include <string>

namespace quasr {

enum class IsaLevel { kRef = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Vnni = 3 };

// Detected once; honours QUASR_ISA. Throws quasr::Error on an unknown value.
IsaLevel isa_level();
// What the CPU has, whatever QUASR_ISA says (for kernels that tests run
// directly at any level).
IsaLevel hardware_isa_level();
std::string isa_name(IsaLevel level);
std::string cpu_model_name();

// quasr's own AVX2 GEMMs (int8 and fp32, at ISA level avx2) in use
// where they apply; QUASR_AVX2_KERNELS=0 leaves those products to oneDNN (for
// comparisons, and to test oneDNN's path on CPUs that would take quasr's).
bool avx2_kernels_enabled();

}  // namespace quasr
