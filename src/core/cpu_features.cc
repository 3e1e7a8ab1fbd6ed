#include "core/cpu_features.h"

#include <cstdlib>
#include <fstream>

#include "core/error.h"

namespace quasr {
namespace {

IsaLevel detect_hardware_level() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl")) {
    return __builtin_cpu_supports("avx512vnni") ? IsaLevel::kAvx512Vnni : IsaLevel::kAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return IsaLevel::kAvx2;
  return IsaLevel::kRef;
}

IsaLevel parse_level(const std::string& text) {
  if (text == "ref") return IsaLevel::kRef;
  if (text == "avx2") return IsaLevel::kAvx2;
  if (text == "avx512") return IsaLevel::kAvx512;
  if (text == "avx512vnni") return IsaLevel::kAvx512Vnni;
  throw Error("QUASR_ISA: unknown level '" + text + "' (expected ref, avx2, avx512 or avx512vnni)");
}

}  // namespace

IsaLevel hardware_isa_level() {
  static const IsaLevel hardware = detect_hardware_level();
  return hardware;
}

IsaLevel isa_level() {
  static const IsaLevel level = [] {
    const IsaLevel hardware = hardware_isa_level();
    const char* forced = std::getenv("QUASR_ISA");
    if (!forced || !*forced) return hardware;
    IsaLevel wanted = parse_level(forced);
    return wanted < hardware ? wanted : hardware;
  }();
  return level;
}

std::string isa_name(IsaLevel level) {
  switch (level) {
    case IsaLevel::kRef:
      return "ref";
    case IsaLevel::kAvx2:
      return "avx2";
    case IsaLevel::kAvx512:
      return "avx512";
    case IsaLevel::kAvx512Vnni:
      return "avx512vnni";
  }
  return "unknown";
}

std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

bool avx2_kernels_enabled() {
  static const bool enabled = [] {
    const char* setting = std::getenv("QUASR_AVX2_KERNELS");
    return !(setting && std::string(setting) == "0");
  }();
  return enabled;
}

}  // namespace quasr
