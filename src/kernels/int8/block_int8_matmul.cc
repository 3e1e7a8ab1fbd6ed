#include "kernels/int8/block_int8_matmul.h"

#include "kernels/int8/amx_int8_matmul.h"
#include "kernels/int8/avx2_int8_matmul.h"

namespace quasr::kernels::int8_detail {

std::unique_ptr<BlockInt8Matmul> make_block_int8_matmul(const int8_t* weight_nk, int64_t n,
                                                        int64_t k, IsaLevel isa) {
  if (isa == IsaLevel::kRef) return nullptr;
  if (AmxInt8Matmul::available() && AmxInt8Matmul::supports(n, k))
    return std::make_unique<AmxInt8Matmul>(weight_nk, n, k);
  // At ISA level avx2 only: activations are 7 bits there (no VNNI), and on
  // AVX-512 CPUs without VNNI oneDNN's kernels do the same steps twice as wide.
  if (isa == IsaLevel::kAvx2 && avx2_kernels_enabled() && Avx2Int8Matmul::available() &&
      Avx2Int8Matmul::supports(n, k))
    return std::make_unique<Avx2Int8Matmul>(weight_nk, n, k);
  return nullptr;
}

}  // namespace quasr::kernels::int8_detail
