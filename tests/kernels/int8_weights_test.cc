#include "kernels/int8/int8_weights.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace quasr::kernels {
namespace {

TEST(Int8Weights, QuantizePerChannelMatchesHandValues) {
  const float w[] = {-1.0f, 4.0f, 0.5f, -0.25f};
  Int8Weights q = Int8Weights::quantize(w, 2, 2, true);
  EXPECT_EQ(q.rows(), 2);
  EXPECT_EQ(q.cols(), 2);
  EXPECT_TRUE(q.per_channel());
  EXPECT_TRUE(q.owns_data());
  EXPECT_FLOAT_EQ(q.scale(0), 4.0f / 127.5f);
  EXPECT_FLOAT_EQ(q.scale(1), 0.5f / 127.5f);
  EXPECT_EQ(q.data()[0], -32);
  EXPECT_EQ(q.data()[1], 127);
  EXPECT_EQ(q.row_sums()[0], 95);
  EXPECT_EQ(q.row_sums()[1], 63);  // 127 - 64
}

TEST(Int8Weights, BorrowKeepsPointerAndComputesSums) {
  const int8_t data[] = {1, -2, 3, 4, 5, -128};
  const float scale = 0.5f;
  Int8Weights w = Int8Weights::borrow(data, 2, 3, &scale, 1);
  EXPECT_EQ(w.data(), data);
  EXPECT_FALSE(w.owns_data());
  EXPECT_FALSE(w.per_channel());
  EXPECT_EQ(w.scale(1), 0.5f);
  EXPECT_EQ(w.row_sums()[0], 2);
  EXPECT_EQ(w.row_sums()[1], -119);
  Int8Weights moved = std::move(w);
  EXPECT_EQ(moved.data(), data);
}

TEST(Int8Weights, CopyOwnsData) {
  const int8_t data[] = {1, 2, 3, 4};
  const float scales[] = {0.1f, 0.2f};
  Int8Weights w = Int8Weights::copy(data, 2, 2, scales, 2);
  EXPECT_NE(w.data(), data);
  EXPECT_TRUE(w.per_channel());
  EXPECT_EQ(w.data()[3], 4);
  const int8_t* before = w.data();
  Int8Weights moved = std::move(w);
  EXPECT_EQ(moved.data(), before);
}

TEST(Int8Weights, BadScalesAreErrors) {
  const int8_t data[] = {1, 2, 3, 4, 5, 6};
  const float two[] = {0.1f, 0.2f};
  EXPECT_THROW(Int8Weights::borrow(data, 3, 2, two, 2), Error);  // 3 rows, 2 scales
  const float bad[] = {0.1f, 0.0f, 0.3f};
  EXPECT_THROW(Int8Weights::borrow(data, 3, 2, bad, 3), Error);
  const float nan = NAN;
  EXPECT_THROW(Int8Weights::borrow(data, 3, 2, &nan, 1), Error);
  EXPECT_THROW(Int8Weights::borrow(data, 0, 2, two, 1), Error);
}

}  // namespace
}  // namespace quasr::kernels
