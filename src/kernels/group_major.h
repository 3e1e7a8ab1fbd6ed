// A grouped conv's input, time-major [frames, groups * cig], copied
// group-major: each group's cig channels of every frame together, so that a
// stride-1 output frame's window (kernel frames of one group) is one
// contiguous run and each group is one matmul over overlapping rows.
#pragma once

#include <algorithm>
#include <cstdint>

namespace quasr::kernels {

// out[g][t] (rows rows of cig values per group) = x's frame t - lead, group g's
// channels; zeros for frames outside [0, t_in) (the conv's padding, or rows
// past the last window). An orphaned `omp for` over the rows: every thread of
// the enclosing parallel region calls it.
template <typename T>
void copy_group_major(const T* x, int64_t t_in, int64_t groups, int64_t cig, int64_t lead,
                      int64_t rows, T* out) {
#pragma omp for schedule(static)
  for (int64_t t = 0; t < rows; ++t) {
    const int64_t frame = t - lead;
    for (int64_t g = 0; g < groups; ++g) {
      T* row = out + (g * rows + t) * cig;
      if (frame >= 0 && frame < t_in) {
        std::copy_n(x + (frame * groups + g) * cig, cig, row);
      } else {
        std::fill_n(row, cig, T{0});
      }
    }
  }
}

}  // namespace quasr::kernels
