// quasr's block u8 x s8 matmuls (AMX and AVX2) against a plain int32
// product: exact sums, every 32 x 32 block handed over once with its valid
// rows, zeros in the padding columns, and the row callback only after all
// of a row's blocks. The AMX cases are skipped where AMX-INT8 is not usable.
#include "kernels/int8/block_int8_matmul.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "kernels/int8/amx_int8_matmul.h"
#include "kernels/int8/avx2_int8_matmul.h"

namespace quasr::kernels::int8_detail {
namespace {

struct Case {
  int64_t m, k, n, q_stride;
};

using MakeKernel =
    std::function<std::unique_ptr<BlockInt8Matmul>(const int8_t* w, int64_t n, int64_t k)>;

// Runs every case with q drawn from 0..q_max and weights from all of s8, and
// checks each sum against int32 arithmetic.
void expect_exact_sums(const MakeKernel& make, const std::vector<Case>& cases, int q_max) {
  std::mt19937 rng(11);
  for (const Case& c : cases) {
    std::vector<uint8_t> q(c.m * c.q_stride);
    std::vector<int8_t> w(c.n * c.k);
    for (uint8_t& v : q) v = static_cast<uint8_t>(rng() % (q_max + 1));
    for (int8_t& v : w) v = static_cast<int8_t>(rng());
    // The largest pair sums VPMADDUBSW can meet, both signs, in row 0.
    for (int64_t l = 0; l < std::min<int64_t>(c.k, 8); ++l) {
      q[l] = static_cast<uint8_t>(q_max);
      w[l] = l < 4 ? int8_t{-128} : int8_t{127};
    }
    const std::unique_ptr<BlockInt8Matmul> matmul = make(w.data(), c.n, c.k);
    std::vector<int32_t> got(c.m * c.n, -1);
    const int64_t blocks = (c.n + kAccBlock - 1) / kAccBlock;
    std::vector<std::atomic<int>> blocks_per_row(c.m), deliveries(c.m * blocks);
    std::atomic<int> bad_blocks{0}, early_rows{0}, rows_seen{0}, nonzero_padding{0};
    std::vector<std::atomic<int>> row_calls(c.m);
    auto block_done = [&](const int32_t* acc, int64_t row0, int64_t rows, int64_t col0) {
      // Pieces of at most one block's rows, from any first row.
      if (col0 % kAccBlock || rows < 1 || rows > kAccBlock || row0 + rows > c.m) ++bad_blocks;
      for (int64_t r = 0; r < rows; ++r) {
        ++blocks_per_row[row0 + r];
        ++deliveries[(row0 + r) * blocks + col0 / kAccBlock];
        for (int64_t j = 0; j < kAccBlock; ++j) {
          if (col0 + j < c.n)
            got[(row0 + r) * c.n + col0 + j] = acc[r * kAccBlock + j];
          else if (acc[r * kAccBlock + j] != 0)
            ++nonzero_padding;
        }
      }
    };
    auto row_done = [&](int64_t i) {
      ++rows_seen;
      ++row_calls[i];
      if (blocks_per_row[i] != blocks) ++early_rows;
    };
    matmul->run(q.data(), c.m, c.q_stride, block_done, row_done);
    EXPECT_EQ(bad_blocks, 0);
    EXPECT_EQ(nonzero_padding, 0);
    EXPECT_EQ(early_rows, 0);
    EXPECT_EQ(rows_seen, c.m);
    for (const std::atomic<int>& count : row_calls) ASSERT_EQ(count, 1);
    for (const std::atomic<int>& count : deliveries) ASSERT_EQ(count, 1);
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        int32_t expected = 0;
        for (int64_t l = 0; l < c.k; ++l)
          expected += int32_t{q[i * c.q_stride + l]} * int32_t{w[j * c.k + l]};
        ASSERT_EQ(got[i * c.n + j], expected)
            << "m " << c.m << " k " << c.k << " n " << c.n << " at " << i << ", " << j;
      }
    }
  }
}

TEST(AmxInt8Matmul, ShapesItCovers) {
  EXPECT_TRUE(AmxInt8Matmul::supports(1024, 4096));
  EXPECT_TRUE(AmxInt8Matmul::supports(32, 64));
  EXPECT_TRUE(AmxInt8Matmul::supports(1000, 1024));  // n padded to whole panels
  EXPECT_FALSE(AmxInt8Matmul::supports(32, 130));    // k not a multiple of 64
  EXPECT_FALSE(AmxInt8Matmul::supports(0, 64));
}

TEST(AmxInt8Matmul, ExactSumsForEveryBlockAndRow) {
  if (!AmxInt8Matmul::available()) GTEST_SKIP() << "AMX-INT8 not usable here";
  // Tails of 1, 31 and 6 rows, 1 to 5 column panels (split unevenly over
  // two threads), row strides beyond k, products large enough to run in
  // parallel with the threads sharing panels (70 rows) or splitting the rows
  // (300 and 200: 19 and 13 groups of 16), and widths that end in a partial
  // panel (7, 40, 1000); and rows that go through in several chunks of
  // packed tiles (k = 4096: 256 rows a chunk; 550 rows per thread).
  const std::vector<Case> cases = {
      {1, 64, 32, 64},        {31, 128, 64, 130},    {33, 64, 96, 64}, {70, 192, 160, 200},
      {300, 1024, 128, 1024}, {45, 128, 40, 128},    {9, 64, 7, 64},   {70, 256, 1000, 256},
      {200, 128, 96, 130},    {1100, 4096, 40, 4096}};
  expect_exact_sums([](const int8_t* w, int64_t n,
                       int64_t k) { return std::make_unique<AmxInt8Matmul>(w, n, k); },
                    cases, 255);
}

TEST(Avx2Int8Matmul, ShapesItCovers) {
  EXPECT_TRUE(Avx2Int8Matmul::supports(1024, 4096));
  EXPECT_TRUE(Avx2Int8Matmul::supports(7, 4));
  EXPECT_FALSE(Avx2Int8Matmul::supports(32, 130));  // k not a multiple of 4
  EXPECT_FALSE(Avx2Int8Matmul::supports(0, 64));
}

TEST(Avx2Int8Matmul, ExactSumsOfSevenBitActivations) {
  if (!Avx2Int8Matmul::available()) GTEST_SKIP() << "no AVX2";
  // Row tails of 1-3 below the micro-kernel's 4 and of 5-31 within a
  // 32-row block; widths that end in a half-empty block (16, 40, 1000) or a
  // partly used panel (7); k of 4 (one step) and 4096; the threads sharing
  // column blocks (70 rows, blocks taken two at a time) or splitting rows
  // (300 and 1100, the latter in chunks of 64 rows at k = 4096).
  const std::vector<Case> cases = {{1, 4, 32, 4},          {3, 8, 16, 8},      {6, 12, 7, 16},
                                   {31, 128, 64, 130},     {33, 64, 96, 64},   {70, 192, 160, 200},
                                   {300, 1024, 128, 1024}, {45, 132, 40, 132}, {70, 256, 1000, 256},
                                   {1100, 4096, 40, 4096}};
  expect_exact_sums([](const int8_t* w, int64_t n,
                       int64_t k) { return std::make_unique<Avx2Int8Matmul>(w, n, k); },
                    cases, 127);
}

TEST(BlockInt8Matmul, ChoosesTheKernelForTheIsaLevel) {
  const std::vector<int8_t> w(64 * 64, 1);
  EXPECT_EQ(make_block_int8_matmul(w.data(), 64, 64, IsaLevel::kRef), nullptr);
  const std::unique_ptr<BlockInt8Matmul> avx2 =
      make_block_int8_matmul(w.data(), 64, 64, IsaLevel::kAvx2);
  if (AmxInt8Matmul::available()) {
    EXPECT_EQ(avx2->name(), "quasr:amx_int8");
  } else if (Avx2Int8Matmul::available()) {
    ASSERT_NE(avx2, nullptr);
    EXPECT_EQ(avx2->name(), "quasr:avx2_int8");
    // 8-bit activations (VNNI level) are not exact on the AVX2 kernel, and
    // AVX-512 without VNNI stays on oneDNN's twice-as-wide kernels.
    EXPECT_EQ(make_block_int8_matmul(w.data(), 64, 64, IsaLevel::kAvx512Vnni), nullptr);
    EXPECT_EQ(make_block_int8_matmul(w.data(), 64, 64, IsaLevel::kAvx512), nullptr);
  }
}

}  // namespace
}  // namespace quasr::kernels::int8_detail
