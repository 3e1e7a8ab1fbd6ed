// A callback on finished output rows, for kernels that hand each row of
// their result to the next operation while it is in cache.
#pragma once

#include <cstdint>

namespace quasr::kernels {

// Work on one finished output row, called by the epilogue's thread while the
// row is in cache: the next operation's per-row part (residual add,
// LayerNorm, the next linear's quantization) without a pass of its own.
// Non-owning, so passing one allocates nothing.
class RowSink {
 public:
  RowSink() = default;
  template <typename F>
  RowSink(const F& f)  // NOLINT: implicit from any callable (int64_t row, float* values)
      : object_(&f),
        call_([](const void* o, int64_t i, float* row) { (*static_cast<const F*>(o))(i, row); }) {}
  explicit operator bool() const { return call_ != nullptr; }
  void operator()(int64_t i, float* row) const { call_(object_, i, row); }

 private:
  const void* object_ = nullptr;
  void (*call_)(const void*, int64_t, float*) = nullptr;
};

// Hands rows [0, m) of y to row_done after the fact, in parallel: for
// kernels that finish no row before the end (reference paths, oneDNN's
// convolutions).
inline void hand_rows(RowSink row_done, float* y, int64_t m, int64_t y_row_stride) {
  if (!row_done) return;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i) row_done(i, y + i * y_row_stride);
}

}  // namespace quasr::kernels
