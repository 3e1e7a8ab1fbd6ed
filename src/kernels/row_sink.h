// A callback on finished output rows, for kernels that hand each row of
// their result to the next operation while it is in cache.
#pragma once

#include <cstdint>

#include "core/function_ref.h"

namespace quasr::kernels {

// Work on one finished output row, called by the epilogue's thread while the
// row is in cache: the next operation's per-row part (residual add,
// LayerNorm, the next linear's quantization) without a pass of its own.
// Non-owning, so passing one allocates nothing.
using RowSink = FunctionRef<void(int64_t, float*)>;

// Hands rows [0, m) of y to row_done after the fact, in parallel: for
// kernels that finish no row before the end (reference paths, oneDNN's
// convolutions).
inline void hand_rows(RowSink row_done, float* y, int64_t m, int64_t y_row_stride) {
  if (!row_done) return;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i) row_done(i, y + i * y_row_stride);
}

}  // namespace quasr::kernels
