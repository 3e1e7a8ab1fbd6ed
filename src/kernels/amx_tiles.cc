#include "kernels/amx_tiles.h"

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/cpu_features.h"

namespace quasr::kernels::amx {
namespace {

// Linux hands out AMX tile state only on request (arch_prctl, per process).
bool tile_data_granted() {
  static const bool granted = [] {
    constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return granted;
}

bool cpu_has(Products products) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool amx_bf16 = d & (1u << 22), amx_tile = d & (1u << 24), amx_int8 = d & (1u << 25);
  if (!amx_tile) return false;
  if (products == Products::kInt8) return amx_int8;
  return amx_bf16 && __builtin_cpu_supports("avx512bf16");
}

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
  TileConfig() {
    for (int t = 0; t < 8; ++t) {
      bytes_per_row[t] = 64;
      rows[t] = 16;
    }
  }
};

}  // namespace

bool usable(Products products) {
  const char* setting = std::getenv("QUASR_AMX");
  if (setting && std::strcmp(setting, "0") == 0) return false;
  return isa_level() >= IsaLevel::kAvx512 && cpu_has(products) && tile_data_granted();
}

__attribute__((target("amx-tile"))) void configure_tiles() {
  static const TileConfig config;
  _tile_loadconfig(&config);
}

__attribute__((target("amx-tile"))) void release_tiles() {
  _tile_release();
}

}  // namespace quasr::kernels::amx
