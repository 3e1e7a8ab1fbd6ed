// quasr's AMX u8 x s8 matmul against a plain int32 product: exact sums,
// every 32 x 32 block handed over once with its valid rows, and the row
// callback only after all blocks. Skipped where AMX-INT8 is not usable.
#include "kernels/int8/amx_int8_matmul.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <vector>

namespace quasr::kernels::int8_detail {
namespace {

struct Case {
  int64_t m, k, n, q_stride;
};

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
  const Case cases[] = {{1, 64, 32, 64},       {31, 128, 64, 130},     {33, 64, 96, 64},
                        {70, 192, 160, 200},   {300, 1024, 128, 1024}, {45, 128, 40, 128},
                        {9, 64, 7, 64},        {70, 256, 1000, 256},   {200, 128, 96, 130},
                        {1100, 4096, 40, 4096}};
  std::mt19937 rng(11);
  for (const Case& c : cases) {
    std::vector<uint8_t> q(c.m * c.q_stride);
    std::vector<int8_t> w(c.n * c.k);
    for (uint8_t& v : q) v = static_cast<uint8_t>(rng());
    for (int8_t& v : w) v = static_cast<int8_t>(rng());
    AmxInt8Matmul matmul(w.data(), c.n, c.k);
    std::vector<int32_t> got(c.m * c.n, -1);
    const int64_t panels = (c.n + kAmxBlock - 1) / kAmxBlock;
    std::vector<std::atomic<int>> blocks_per_row(c.m), deliveries(c.m * panels);
    std::atomic<int> bad_blocks{0}, early_rows{0}, rows_seen{0}, nonzero_padding{0};
    std::vector<std::atomic<int>> row_calls(c.m);
    auto block_done = [&](const int32_t* acc, int64_t row0, int64_t rows, int64_t col0) {
      // Pieces of at most one block's rows (a thread's rows may start at any
      // multiple of 16, so blocks need not start at multiples of 32).
      if (col0 % kAmxBlock || rows < 1 || rows > kAmxBlock || row0 + rows > c.m) ++bad_blocks;
      for (int64_t r = 0; r < rows; ++r) {
        ++blocks_per_row[row0 + r];
        ++deliveries[(row0 + r) * panels + col0 / kAmxBlock];
        for (int64_t j = 0; j < kAmxBlock; ++j) {
          if (col0 + j < c.n)
            got[(row0 + r) * c.n + col0 + j] = acc[r * kAmxBlock + j];
          else if (acc[r * kAmxBlock + j] != 0)
            ++nonzero_padding;
        }
      }
    };
    auto row_done = [&](int64_t i) {
      ++rows_seen;
      ++row_calls[i];
      if (blocks_per_row[i] != panels) ++early_rows;
    };
    matmul.run(q.data(), c.m, c.q_stride, block_done, row_done);
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

}  // namespace
}  // namespace quasr::kernels::int8_detail
