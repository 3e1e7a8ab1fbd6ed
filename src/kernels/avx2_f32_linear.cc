#include "kernels/avx2_f32_linear.h"

#include <immintrin.h>

#include <algorithm>

#include <omp.h>

#include "core/cpu_features.h"
#include "core/tensor.h"
#include "kernels/vector_math_avx2.h"

namespace quasr::kernels {

namespace {

#define QUASR_AVX2_TARGET __attribute__((target("avx2,fma")))

constexpr int64_t kPanelCols = 16;   // columns of one panel (two vectors)
constexpr int64_t kKernelRows = 6;   // rows of sums the micro-kernel keeps in registers
constexpr int64_t kSliceK = 256;     // values of k per pass: a panel's slice is 16 KiB
constexpr int64_t kChunkRows = 240;  // rows per pass: 240 KiB of x per slice, in L2
// Below this many multiply-adds one thread does the whole product.
constexpr int64_t kParallelWork = int64_t{1} << 20;

// Where a tile's sums start and go. Between slices of k they wait in a
// per-thread buffer, 16 values a row, in the order the tiles come: in y
// itself (rows 4 or 16 KiB apart) every tile's rows fell in one L1 set and
// the partial sums came back from L3, a quarter of the kernel's time.
struct TileTarget {
  const float* partial = nullptr;  // sums so far, rows 16 apart; null: start at zero
  float* out = nullptr;            // where the tile's rows go,
  int64_t out_stride = 0;          // this far apart
  const float* bias = nullptr;     // the panel's 16 values: finish (bias, activation) and
  bool gelu = false;               // write final values; null while slices remain

  TileTarget rows_from(int64_t r) const {
    TileTarget shifted = *this;
    if (shifted.partial) shifted.partial += r * kPanelCols;
    shifted.out += r * out_stride;
    return shifted;
  }
};

QUASR_AVX2_TARGET inline __m256 finish(__m256 sum, __m256 bias, bool gelu) {
  const __m256 v = _mm256_add_ps(sum, bias);
  return gelu ? avx2::gelu(v) : v;
}

// out[r, 0..15] = partial[r] + Σ_l x[r, l] panel[l, 0..15] for r < kRows
// over `depth` values of k (x packed by pack_rows), finished with bias and
// activation where target.bias is set. Sums are named variables: an array
// of them GCC 12 kept on the stack.
template <int kRows>
QUASR_AVX2_TARGET void multiply_tile(const float* packed, const float* panel, int64_t depth,
                                     const TileTarget& target) {
  static_assert(kRows >= 1 && kRows <= 6);
  __m256 lo0 = _mm256_setzero_ps(), hi0 = lo0, lo1 = lo0, hi1 = lo0, lo2 = lo0, hi2 = lo0,
         lo3 = lo0, hi3 = lo0, lo4 = lo0, hi4 = lo0, lo5 = lo0, hi5 = lo0;
#define QUASR_FMA_ROW(r, lo, hi)                        \
  do {                                                  \
    const __m256 v = _mm256_broadcast_ss(values + (r)); \
    lo = _mm256_fmadd_ps(v, w0, lo);                    \
    hi = _mm256_fmadd_ps(v, w1, hi);                    \
  } while (0)
#pragma GCC unroll 2
  for (int64_t l = 0; l < depth; ++l) {
    const __m256 w0 = _mm256_loadu_ps(panel + l * kPanelCols);
    const __m256 w1 = _mm256_loadu_ps(panel + l * kPanelCols + 8);
    const float* values = packed + l * kKernelRows;
    QUASR_FMA_ROW(0, lo0, hi0);
    if constexpr (kRows > 1) QUASR_FMA_ROW(1, lo1, hi1);
    if constexpr (kRows > 2) QUASR_FMA_ROW(2, lo2, hi2);
    if constexpr (kRows > 3) QUASR_FMA_ROW(3, lo3, hi3);
    if constexpr (kRows > 4) QUASR_FMA_ROW(4, lo4, hi4);
    if constexpr (kRows > 5) QUASR_FMA_ROW(5, lo5, hi5);
  }
#undef QUASR_FMA_ROW
  const __m256 sums[12] = {lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3, lo4, hi4, lo5, hi5};
  const __m256 bias_lo = target.bias ? _mm256_loadu_ps(target.bias) : _mm256_setzero_ps();
  const __m256 bias_hi = target.bias ? _mm256_loadu_ps(target.bias + 8) : _mm256_setzero_ps();
  for (int r = 0; r < kRows; ++r) {
    float* out = target.out + r * target.out_stride;
    __m256 lo = sums[2 * r], hi = sums[2 * r + 1];
    if (target.partial) {
      lo = _mm256_add_ps(_mm256_loadu_ps(target.partial + r * kPanelCols), lo);
      hi = _mm256_add_ps(_mm256_loadu_ps(target.partial + r * kPanelCols + 8), hi);
    }
    if (target.bias) {
      lo = finish(lo, bias_lo, target.gelu);
      hi = finish(hi, bias_hi, target.gelu);
    }
    _mm256_storeu_ps(out, lo);
    _mm256_storeu_ps(out + 8, hi);
  }
}

// rows (up to kChunkRows) of x, values [0, depth) of k, into groups of
// kKernelRows rows interleaved value by value ([group][l][6], rows past the
// end zero). Read in place, the 6 rows of a tile (4 or 16 KiB apart in the
// model) fall in one L1 set and evict the panel's lines.
void pack_rows(const float* x, int64_t rows, int64_t x_stride, int64_t depth, float* packed) {
  for (int64_t g = 0; g * kKernelRows < rows; ++g) {
    float* group = packed + g * kKernelRows * depth;
    for (int64_t r = 0; r < kKernelRows; ++r) {
      const int64_t row = g * kKernelRows + r;
      if (row >= rows) {
        for (int64_t l = 0; l < depth; ++l) group[l * kKernelRows + r] = 0.0f;
        continue;
      }
      const float* src = x + row * x_stride;
      for (int64_t l = 0; l < depth; ++l) group[l * kKernelRows + r] = src[l];
    }
  }
}

// The packed rows against one panel slice, kKernelRows at a time.
void multiply_panel_slice(const float* packed, int64_t rows, const float* panel, int64_t depth,
                          const TileTarget& target) {
  int64_t r = 0;
  for (; r + kKernelRows <= rows; r += kKernelRows)
    multiply_tile<kKernelRows>(packed + r * depth, panel, depth, target.rows_from(r));
  const float* tail = packed + r * depth;
  const TileTarget tail_target = target.rows_from(r);
  switch (rows - r) {
    case 5:
      return multiply_tile<5>(tail, panel, depth, tail_target);
    case 4:
      return multiply_tile<4>(tail, panel, depth, tail_target);
    case 3:
      return multiply_tile<3>(tail, panel, depth, tail_target);
    case 2:
      return multiply_tile<2>(tail, panel, depth, tail_target);
    case 1:
      return multiply_tile<1>(tail, panel, depth, tail_target);
    default:
      return;
  }
}

}  // namespace

bool Avx2F32Linear::available() {
  return hardware_isa_level() >= IsaLevel::kAvx2;
}

Avx2F32Linear::Avx2F32Linear(const float* weight_nk, const float* bias, int64_t n, int64_t k,
                             Activation activation)
    : n_(n),
      k_(k),
      activation_(activation),
      bias_(static_cast<size_t>(n), 0.0f),
      weights_(WeightMemory::of_bytes(n * k * static_cast<int64_t>(sizeof(float)))) {
  if (bias) std::copy_n(bias, n, bias_.begin());
  // Slice by slice of k, panel after panel (16 columns as [depth][16]), so
  // that one pass over a slice reads one contiguous run the hardware
  // prefetcher follows: w[16p + c, l0 + l] at l0 n + p 16 depth + l 16 + c.
  float* out = reinterpret_cast<float*>(weights_.bytes());
  for (int64_t l0 = 0; l0 < k; l0 += kSliceK) {
    const int64_t depth = std::min(kSliceK, k - l0);
    for (int64_t p = 0; p < n / kPanelCols; ++p)
      for (int64_t c = 0; c < kPanelCols; ++c) {
        const float* column = weight_nk + (p * kPanelCols + c) * k + l0;
        float* dst = out + l0 * n + p * kPanelCols * depth + c;
        for (int64_t l = 0; l < depth; ++l) dst[l * kPanelCols] = column[l];
      }
  }
}

void Avx2F32Linear::run_rows(const float* x, int64_t m, int64_t x_row_stride, float* y,
                             int64_t y_row_stride, int64_t first_panel, int64_t last_panel) const {
  const float* weights = reinterpret_cast<const float*>(weights_.bytes());
  thread_local std::vector<float> packed_rows, partial_sums;
  float* packed = grow(packed_rows, kChunkRows * kSliceK);
  const int64_t panels = last_panel - first_panel;
  float* partial = k_ > kSliceK ? grow(partial_sums, kChunkRows * panels * kPanelCols) : nullptr;
  for (int64_t row0 = 0; row0 < m; row0 += kChunkRows) {
    const int64_t rows = std::min(kChunkRows, m - row0);
    for (int64_t l0 = 0; l0 < k_; l0 += kSliceK) {
      const int64_t depth = std::min(kSliceK, k_ - l0);
      const bool last = l0 + depth == k_;
      pack_rows(x + row0 * x_row_stride + l0, rows, x_row_stride, depth, packed);
      for (int64_t p = first_panel; p < last_panel; ++p) {
        float* panel_partial = partial ? partial + (p - first_panel) * rows * kPanelCols : nullptr;
        TileTarget target;
        target.partial = l0 == 0 ? nullptr : panel_partial;
        if (last) {
          target.out = y + row0 * y_row_stride + p * kPanelCols;
          target.out_stride = y_row_stride;
          target.bias = bias_.data() + p * kPanelCols;
          target.gelu = activation_ == Activation::kGelu;
        } else {
          target.out = panel_partial;
          target.out_stride = kPanelCols;
        }
        multiply_panel_slice(packed, rows, weights + l0 * n_ + p * kPanelCols * depth, depth,
                             target);
      }
    }
  }
}

void Avx2F32Linear::run(const float* x, int64_t m, int64_t x_row_stride, float* y,
                        int64_t y_row_stride) const {
  if (m <= 0) return;
  const int64_t panels = n_ / kPanelCols;
  const int threads = m * n_ * k_ >= kParallelWork ? omp_get_max_threads() : 1;
  if (threads == 1) return run_rows(x, m, x_row_stride, y, y_row_stride, 0, panels);
  // The threads split the panels and share the rows: each weight is read
  // from memory by one thread (the rows are the smaller operand in the
  // model). With few panels, each thread takes its own rows instead.
  const bool split_rows = panels < 8 * threads && m >= 4 * kKernelRows * threads;
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), count = omp_get_num_threads();
    if (split_rows) {
      const int64_t groups = (m + kKernelRows - 1) / kKernelRows;
      const int64_t first = std::min(m, groups * t / count * kKernelRows);
      const int64_t last = std::min(m, groups * (t + 1) / count * kKernelRows);
      run_rows(x + first * x_row_stride, last - first, x_row_stride, y + first * y_row_stride,
               y_row_stride, 0, panels);
    } else {
      run_rows(x, m, x_row_stride, y, y_row_stride, panels * t / count, panels * (t + 1) / count);
    }
  }
}

}  // namespace quasr::kernels
