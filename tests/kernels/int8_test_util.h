// Shared helpers for the int8 kernel tests: deterministic data and the
// tolerance an optimized int8 result may differ from the reference by.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace quasr::kernels::testing {

inline std::vector<float> random_vector(int64_t n, uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// Both sides compute the same int32 sums; they may differ only in float
// rounding of the dequantization (the folded zero-point term of the static
// path cancels large terms) and in the vector erf. `magnitude` bounds the
// largest float term involved.
inline float int8_tolerance(float magnitude) {
  return 2e-6f * magnitude + 2e-6f;
}

}  // namespace quasr::kernels::testing
