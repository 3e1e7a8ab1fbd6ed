// Hand-worked CTC greedy cases: each matrix row is one frame, and the expected
// token list is derived by hand (argmax, collapse runs, drop blank).
#include "decode/ctc_greedy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"

namespace quasr {
namespace {

// Builds a [frames, vocab] matrix whose arg-max in row t is path[t]
// (1.0 there, 0.0 elsewhere).
std::vector<float> one_hot(const std::vector<int>& path, int vocab) {
  std::vector<float> m(path.size() * vocab, 0.0f);
  for (size_t t = 0; t < path.size(); ++t) m[t * vocab + path[t]] = 1.0f;
  return m;
}

TEST(CtcGreedy, CollapsesRepeatsAndDropsBlank) {
  // path: - a a - b b b - - a  (blank 0, a=1, b=2) -> a b a
  const std::vector<int> path = {0, 1, 1, 0, 2, 2, 2, 0, 0, 1};
  const auto m = one_hot(path, 3);
  EXPECT_EQ(ctc_greedy_decode(m.data(), 10, 3, 0), (std::vector<int>{1, 2, 1}));
}

TEST(CtcGreedy, RepeatAcrossBlankIsKept) {
  // a - a -> a a ; a a -> a
  const auto m = one_hot({1, 0, 1, 1}, 2);
  EXPECT_EQ(ctc_greedy_decode(m.data(), 4, 2, 0), (std::vector<int>{1, 1}));
}

TEST(CtcGreedy, AllBlankAndEmpty) {
  const auto m = one_hot({2, 2, 2}, 3);
  EXPECT_TRUE(ctc_greedy_decode(m.data(), 3, 3, 2).empty());
  EXPECT_TRUE(ctc_greedy_decode(nullptr, 0, 3, 0).empty());
}

TEST(CtcGreedy, BlankIsNotZero) {
  // HF fine-tuning layout puts [PAD] last: blank = 3.
  // path: 0 3 0 1 1 3 2 -> 0 0 1 2
  const auto m = one_hot({0, 3, 0, 1, 1, 3, 2}, 4);
  EXPECT_EQ(ctc_greedy_decode(m.data(), 7, 4, 3), (std::vector<int>{0, 0, 1, 2}));
}

TEST(CtcGreedy, TiesGoToLowestIndex) {
  // Row 0: classes 1 and 2 tie -> 1. Row 1: all equal -> 0 (blank).
  // Row 2: 2 and 3 tie above 1 -> 2. Result: 1 2.
  const std::vector<float> m = {-5.0f, -1.0f, -1.0f, -9.0f,  //
                                -2.0f, -2.0f, -2.0f, -2.0f,  //
                                -3.0f, -3.0f, -0.5f, -0.5f};
  EXPECT_EQ(ctc_greedy_decode(m.data(), 3, 4, 0), (std::vector<int>{1, 2}));
}

TEST(CtcGreedy, RealLogProbs) {
  // log-softmax-like rows, arg-max by hand: 2, 2, 0, 1, 0, 0, 2 -> 2 1 2
  const std::vector<float> m = {-2.3f, -1.6f, -0.4f,  //
                                -1.9f, -2.0f, -0.3f,  //
                                -0.1f, -3.0f, -2.5f,  //
                                -1.2f, -0.6f, -1.5f,  //
                                -0.7f, -0.8f, -2.0f,  //
                                -0.2f, -2.2f, -2.1f,  //
                                -1.1f, -1.4f, -0.9f};
  EXPECT_EQ(ctc_greedy_decode(m.data(), 7, 3, 0), (std::vector<int>{2, 1, 2}));
}

TEST(CtcGreedy, NanIsTheMaximumAsInTorch) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> m = {0.0f, 5.0f, nan, nan};
  EXPECT_EQ(ctc_best_path(m.data(), 1, 4), (std::vector<int>{2}));
}

TEST(CtcGreedy, FirstFrameOfEachToken) {
  // path: - a a - b b - - a -> tokens a b a at frames 1 4 8
  const auto m = one_hot({0, 1, 1, 0, 2, 2, 0, 0, 1}, 3);
  const CtcGreedyResult r = ctc_greedy_decode_with_frames(m.data(), 9, 3, 0);
  EXPECT_EQ(r.tokens, (std::vector<int>{1, 2, 1}));
  EXPECT_EQ(r.frames, (std::vector<int64_t>{1, 4, 8}));
}

TEST(CtcGreedy, BestPathIsUncollapsed) {
  const auto m = one_hot({0, 1, 1, 0}, 2);
  EXPECT_EQ(ctc_best_path(m.data(), 4, 2), (std::vector<int>{0, 1, 1, 0}));
}

TEST(CtcGreedy, RejectsBadArguments) {
  const std::vector<float> m(6, 0.0f);
  EXPECT_THROW(ctc_greedy_decode(m.data(), 2, 3, 3), Error);
  EXPECT_THROW(ctc_greedy_decode(m.data(), 2, 3, -1), Error);
  EXPECT_THROW(ctc_greedy_decode(m.data(), -1, 3, 0), Error);
  EXPECT_THROW(ctc_greedy_decode(m.data(), 2, 0, 0), Error);
  EXPECT_THROW(ctc_greedy_decode(nullptr, 2, 3, 0), Error);
}

}  // namespace
}  // namespace quasr
