#include "kernels/int8/avx2_int8_matmul.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include <omp.h>

namespace quasr::kernels::int8_detail {

namespace {

#define QUASR_AVX2_TARGET __attribute__((target("avx2,fma")))

constexpr int64_t kPanelCols = 16;  // columns of one panel (two vectors of 8 sums)
constexpr int64_t kGroupBytes = 4;  // bytes of k per column per step
constexpr int64_t kStepBytes = kPanelCols * kGroupBytes;  // one panel step: 64 bytes
constexpr int64_t kKernelRows = 4;  // rows of sums the micro-kernel keeps in registers
// Bytes of rows (read in place, not packed) a thread multiplies at a time:
// each column block passes over every row of a chunk, which should stay in
// L2 (512 KiB here).
constexpr int64_t kChunkBytes = int64_t{256} << 10;

// One row's step: 4 bytes of the row broadcast against the two weight
// vectors (columns 0-7 and 8-15, 4 values of k each). VPMADDUBSW gives pairs
// in int16, VPMADDWD by 1 sums the pairs into int32.
#define QUASR_ROW_STEP(row, lo, hi)                                                  \
  do {                                                                               \
    int32_t group;                                                                   \
    std::memcpy(&group, (row) + s * kGroupBytes, sizeof(group));                     \
    const __m256i x = _mm256_set1_epi32(group);                                      \
    lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_maddubs_epi16(x, w0), ones)); \
    hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_maddubs_epi16(x, w1), ones)); \
  } while (0)

// acc[r * kAccBlock + c] (c < 16) = Σ_l a[r][l] panel[c, l] for rows r < kRows.
// The sums are named variables, not an array: with an array GCC 12 kept
// them on the stack and reached 60 % of the speed of this form.
template <int kRows>
QUASR_AVX2_TARGET void multiply_rows(const uint8_t* a, int64_t a_stride, const int8_t* panel,
                                     int64_t steps, int32_t* acc) {
  static_assert(kRows >= 1 && kRows <= 4);
  __m256i lo0 = _mm256_setzero_si256(), hi0 = lo0, lo1 = lo0, hi1 = lo0, lo2 = lo0, hi2 = lo0,
          lo3 = lo0, hi3 = lo0;
  const __m256i ones = _mm256_set1_epi16(1);
  const uint8_t* a0 = a;
  const uint8_t* a1 = a + a_stride;
  const uint8_t* a2 = a + 2 * a_stride;
  const uint8_t* a3 = a + 3 * a_stride;
  // Two steps an iteration: 85 -> 93 GMAC/s on one core with L1-resident
  // operands (94 is the instructions' own rate there).
#pragma GCC unroll 2
  for (int64_t s = 0; s < steps; ++s) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + 32));
    panel += kStepBytes;
    QUASR_ROW_STEP(a0, lo0, hi0);
    if constexpr (kRows > 1) QUASR_ROW_STEP(a1, lo1, hi1);
    if constexpr (kRows > 2) QUASR_ROW_STEP(a2, lo2, hi2);
    if constexpr (kRows > 3) QUASR_ROW_STEP(a3, lo3, hi3);
  }
  const __m256i sums[8] = {lo0, hi0, lo1, hi1, lo2, hi2, lo3, hi3};
  for (int r = 0; r < kRows; ++r) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + r * kAccBlock), sums[2 * r]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + r * kAccBlock + 8), sums[2 * r + 1]);
  }
}
#undef QUASR_ROW_STEP

// Up to 32 rows of a against one panel, kKernelRows at a time.
void multiply_panel(const uint8_t* a, int64_t rows, int64_t a_stride, const int8_t* panel,
                    int64_t steps, int32_t* acc) {
  int64_t r = 0;
  for (; r + kKernelRows <= rows; r += kKernelRows)
    multiply_rows<kKernelRows>(a + r * a_stride, a_stride, panel, steps, acc + r * kAccBlock);
  const uint8_t* tail = a + r * a_stride;
  int32_t* tail_acc = acc + r * kAccBlock;
  switch (rows - r) {
    case 3:
      return multiply_rows<3>(tail, a_stride, panel, steps, tail_acc);
    case 2:
      return multiply_rows<2>(tail, a_stride, panel, steps, tail_acc);
    case 1:
      return multiply_rows<1>(tail, a_stride, panel, steps, tail_acc);
    default:
      return;
  }
}

}  // namespace

bool Avx2Int8Matmul::available() {
  return hardware_isa_level() >= IsaLevel::kAvx2;
}

Avx2Int8Matmul::Avx2Int8Matmul(const int8_t* weight_nk, int64_t n, int64_t k)
    : n_(n),
      k_(k),
      blocks_((n + kAccBlock - 1) / kAccBlock),
      weights_(WeightMemory::of_bytes(blocks_ * kAccBlock * k)) {
  // Panel p, step s, column c, byte b at p * 16k + s * 64 + c * 4 + b holds
  // w[16p + c, 4s + b]; columns from n on are zero.
  int8_t* out = weights_.bytes();
  const int64_t steps = k / kGroupBytes;
  for (int64_t p = 0; p < 2 * blocks_; ++p) {
    for (int64_t s = 0; s < steps; ++s) {
      for (int64_t c = 0; c < kPanelCols; ++c) {
        const int64_t column = p * kPanelCols + c;
        int8_t* dst = out + (p * steps + s) * kStepBytes + c * kGroupBytes;
        if (column < n) {
          std::memcpy(dst, weight_nk + column * k + s * kGroupBytes, kGroupBytes);
        } else {
          std::memset(dst, 0, kGroupBytes);
        }
      }
    }
  }
}

void Avx2Int8Matmul::multiply_blocks(const uint8_t* q, int64_t rows, int64_t q_stride,
                                     int64_t first_row, int64_t first_block, int64_t last_block,
                                     AccumulatorSink block_done) const {
  alignas(64) int32_t acc[kAccBlock * kAccBlock];
  const int64_t steps = k_ / kGroupBytes;
  const int64_t panel_bytes = kPanelCols * k_;
  const int64_t block_bytes = 2 * panel_bytes;
  const int64_t row_blocks = (rows + kAccBlock - 1) / kAccBlock;
  // The weights come from DRAM (each is used once per utterance): the next
  // block's are fetched into L2 along the way, a slice per row block.
  const int64_t lines_per_row_block = (block_bytes / 64 + row_blocks - 1) / row_blocks;
  for (int64_t b = first_block; b < last_block; ++b) {
    const int8_t* block_weights = weights_.bytes() + b * block_bytes;
    const char* prefetch = reinterpret_cast<const char*>(block_weights + block_bytes);
    const char* prefetch_end = b + 1 < blocks_ ? prefetch + block_bytes : prefetch;
    // A second panel wholly past n holds only zeros: its sums are too.
    const bool second_panel = b * kAccBlock + kPanelCols < n_;
    for (int64_t row0 = 0; row0 < rows; row0 += kAccBlock) {
      for (int64_t l = 0; l < lines_per_row_block && prefetch < prefetch_end; ++l, prefetch += 64)
        _mm_prefetch(prefetch, _MM_HINT_T1);
      const int64_t count = std::min(kAccBlock, rows - row0);
      const uint8_t* a = q + row0 * q_stride;
      multiply_panel(a, count, q_stride, block_weights, steps, acc);
      if (second_panel) {
        multiply_panel(a, count, q_stride, block_weights + panel_bytes, steps, acc + kPanelCols);
      } else {
        for (int64_t r = 0; r < count; ++r)
          std::memset(acc + r * kAccBlock + kPanelCols, 0, kPanelCols * sizeof(int32_t));
      }
      block_done(acc, first_row + row0, count, b * kAccBlock);
    }
  }
}

void Avx2Int8Matmul::run_rows_on_this_thread(const uint8_t* q, int64_t m, int64_t q_stride,
                                             int64_t first_row, AccumulatorSink block_done,
                                             RowIndexSink row_done) const {
  const int64_t chunk = std::max(kAccBlock, kChunkBytes / k_ / kAccBlock * kAccBlock);
  for (int64_t done = 0; done < m; done += chunk) {
    const int64_t rows = std::min(chunk, m - done);
    multiply_blocks(q + done * q_stride, rows, q_stride, first_row + done, 0, blocks_, block_done);
    if (row_done)
      for (int64_t i = first_row + done; i < first_row + done + rows; ++i) row_done(i);
  }
}

void Avx2Int8Matmul::run(const uint8_t* q, int64_t m, int64_t q_stride, AccumulatorSink block_done,
                         RowIndexSink row_done) const {
  if (m <= 0) return;
  const int64_t macs = m * blocks_ * kAccBlock * k_;
  const int threads = macs >= amx_panels::kParallelWork ? omp_get_max_threads() : 1;
  if (threads == 1) return run_rows_on_this_thread(q, m, q_stride, 0, block_done, row_done);
  if (m >= amx_panels::kRowsPerThreadForRowSplit * threads) {
    // Each thread its own rows and every column block: no barrier, and
    // row_done follows on the thread that computed the row.
#pragma omp parallel num_threads(threads)
    {
      const amx_panels::RowRange own =
          amx_panels::thread_rows(m, omp_get_thread_num(), omp_get_num_threads());
      run_rows_on_this_thread(q + own.first * q_stride, own.count, q_stride, own.first, block_done,
                              row_done);
    }
    return;
  }
  // Few rows: the threads share the column blocks, taken two at a time from
  // a counter so that a thread that starts late takes fewer.
  amx_panels::PanelQueue queue(blocks_, 2);
#pragma omp parallel num_threads(threads)
  {
    for (int64_t first, last; queue.take(&first, &last);)
      multiply_blocks(q, m, q_stride, 0, first, last, block_done);
    if (row_done) {
#pragma omp barrier
#pragma omp for schedule(static)
      for (int64_t i = 0; i < m; ++i) row_done(i);
    }
  }
}

}  // namespace quasr::kernels::int8_detail
