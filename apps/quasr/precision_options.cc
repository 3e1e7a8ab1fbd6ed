#include "precision_options.h"

namespace quasr::cli {

void add_precision_options(CLI::App* command, std::string* attention, std::string* fp32_matmul) {
  command->add_option("--attention", *attention,
                      "Attention products: auto (bf16 for quantized models where the CPU has "
                      "native bf16, else fp32) | fp32 | bf16");
  command->add_option("--fp32-matmul", *fp32_matmul,
                      "fp32 linears: auto (bf16x3 where the CPU has AMX-BF16, else exact) | "
                      "exact (fp32: oneDNN, or quasr's AVX2 GEMM on CPUs without AVX-512) | "
                      "bf16x3 (AMX; each operand as two bf16 halves)");
}

}  // namespace quasr::cli
