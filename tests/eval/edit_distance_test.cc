// WER/CER counts: hand-worked cases and SpeechBrain's own numbers for a table
// of pairs (tests/fixtures/eval/sb_wer_cases.json, from tools/sb_wer_reference.py).
#include "eval/edit_distance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

namespace quasr {
namespace {

struct Expected {
  int64_t n, ins, del, sub, correct;
};

void expect_counts(const Alignment& a, Expected e) {
  EXPECT_EQ(a.counts.ref_words, e.n);
  EXPECT_EQ(a.counts.ins, e.ins);
  EXPECT_EQ(a.counts.del, e.del);
  EXPECT_EQ(a.counts.sub, e.sub);
  EXPECT_EQ(a.counts.correct, e.correct);
  EXPECT_EQ(a.counts.sentences, 1);
  EXPECT_EQ(a.counts.sentences_with_error, e.ins + e.del + e.sub > 0 ? 1 : 0);
}

TEST(WordErrors, IdenticalSentenceHasNoErrors) {
  const Alignment a = align_words("the cat sat on the mat", "the cat sat on the mat");
  expect_counts(a, {6, 0, 0, 0, 6});
  EXPECT_DOUBLE_EQ(a.counts.wer(), 0.0);
}

TEST(WordErrors, InsertionAtStart) {
  const Alignment a = align_words("the cat", "a the cat");
  expect_counts(a, {2, 1, 0, 0, 2});
  EXPECT_DOUBLE_EQ(a.counts.wer(), 50.0);
  ASSERT_EQ(a.pairs.size(), 3u);
  EXPECT_EQ(a.pairs[0], (AlignedPair{'I', "", "a"}));
  EXPECT_EQ(a.pairs[1], (AlignedPair{'C', "the", "the"}));
}

TEST(WordErrors, InsertionAtEnd) {
  const Alignment a = align_words("the cat", "the cat sat");
  expect_counts(a, {2, 1, 0, 0, 2});
  EXPECT_EQ(a.pairs.back(), (AlignedPair{'I', "", "sat"}));
}

TEST(WordErrors, InsertionsAtBothEnds) {
  // 2 insertions over 3 reference words.
  const Alignment a = align_words("the cat sat", "uh the cat sat um");
  expect_counts(a, {3, 2, 0, 0, 3});
  EXPECT_NEAR(a.counts.wer(), 66.666666666666667, 1e-12);
}

TEST(WordErrors, EmptyReferenceCountsInsertionsAndHasNoRate) {
  const Alignment a = align_words("", "hello world");
  expect_counts(a, {0, 2, 0, 0, 0});
  EXPECT_TRUE(std::isnan(a.counts.wer()));
}

TEST(WordErrors, EmptyHypothesisIsAllDeletions) {
  const Alignment a = align_words("hello world", "");
  expect_counts(a, {2, 0, 2, 0, 0});
  EXPECT_DOUBLE_EQ(a.counts.wer(), 100.0);
}

TEST(WordErrors, BothEmpty) {
  const Alignment a = align_words("", "   ");
  expect_counts(a, {0, 0, 0, 0, 0});
  EXPECT_TRUE(a.pairs.empty());
}

TEST(WordErrors, RepeatedWordDeletedAtTheEnd) {
  const Alignment a = align_words("the the the", "the the");
  expect_counts(a, {3, 0, 1, 0, 2});
  EXPECT_EQ(a.pairs.back(), (AlignedPair{'D', "the", ""}));
}

TEST(WordErrors, SingleSubstitution) {
  const Alignment a = align_words("a b c", "a x c");
  expect_counts(a, {3, 0, 0, 1, 2});
  EXPECT_EQ(a.pairs[1], (AlignedPair{'S', "b", "x"}));
}

TEST(WordErrors, SwapTieBreaksLikeSpeechBrain) {
  // Worked by hand through SpeechBrain's table: cell (2,2) ties at cost 2 for
  // insertion, deletion and substitution and keeps the insertion, so the
  // alignment is D a, C b, I a (not two substitutions).
  const Alignment a = align_words("a b", "b a");
  expect_counts(a, {2, 1, 1, 0, 1});
  const std::vector<AlignedPair> expected = {{'D', "a", ""}, {'C', "b", "b"}, {'I', "", "a"}};
  EXPECT_EQ(a.pairs, expected);
}

TEST(WordErrors, SplitsOnUnicodeWhitespaceLikePython) {
  // U+00A0 and U+3000 are whitespace for str.split(); U+200B is not.
  const std::vector<std::string> words = split_words(
      "a\xC2\xA0"
      "b\xE3\x80\x80"
      "c\xE2\x80\x8B"
      "d\t\n");
  const std::vector<std::string> expected = {"a", "b",
                                             "c\xE2\x80\x8B"
                                             "d"};
  EXPECT_EQ(words, expected);
}

TEST(WordErrors, CountsAccumulate) {
  ErrorCounts total;
  total += align_words("a b c", "a x c").counts;
  total += align_words("d e", "d e f").counts;
  EXPECT_EQ(total.ref_words, 5);
  EXPECT_EQ(total.hyp_words, 6);
  EXPECT_EQ(total.errors(), 2);
  EXPECT_EQ(total.sentences, 2);
  EXPECT_EQ(total.sentences_with_error, 2);
  EXPECT_DOUBLE_EQ(total.wer(), 40.0);
  EXPECT_DOUBLE_EQ(total.ser(), 100.0);
}

TEST(CharErrors, SpaceIsAnUnderscoreToken) {
  // SpeechBrain split_word: "ab c" -> a b _ c.
  const std::vector<std::string> expected = {"a", "b", "_", "c"};
  EXPECT_EQ(split_chars("  ab   c "), expected);
  const Alignment a = align_chars("ab c", "ab d");
  expect_counts(a, {4, 0, 0, 1, 3});
  EXPECT_DOUBLE_EQ(a.counts.wer(), 25.0);
}

TEST(CharErrors, MissingSpaceIsOneDeletion) {
  const Alignment a = align_chars("a b", "ab");
  expect_counts(a, {3, 0, 1, 0, 2});
}

TEST(CharErrors, CodePointsNotBytes) {
  // "é" is 2 bytes but one character.
  const Alignment a = align_chars("caf\xC3\xA9", "cafe");
  expect_counts(a, {4, 0, 0, 1, 3});
  const std::vector<std::string> expected = {"\xE4\xB8\x9C", "\xE4\xBA\xAC"};
  EXPECT_EQ(split_chars("\xE4\xB8\x9C\xE4\xBA\xAC"), expected);
}

TEST(SpeechBrainTable, CountsAndAlignmentsMatch) {
  std::ifstream in(std::string(QUASR_FIXTURE_DIR) + "/eval/sb_wer_cases.json");
  ASSERT_TRUE(in) << "missing fixture sb_wer_cases.json";
  const nlohmann::json table = nlohmann::json::parse(in);
  ASSERT_GE(table["cases"].size(), 40u);
  ErrorCounts words_total, chars_total;
  for (const nlohmann::json& c : table["cases"]) {
    const std::string ref = c["ref"], hyp = c["hyp"];
    SCOPED_TRACE("ref='" + ref + "' hyp='" + hyp + "'");
    const Alignment w = align_words(ref, hyp);
    EXPECT_EQ(w.counts.ref_words, c["words"]["ref_tokens"].get<int64_t>());
    EXPECT_EQ(w.counts.hyp_words, c["words"]["hyp_tokens"].get<int64_t>());
    EXPECT_EQ(w.counts.ins, c["words"]["ins"].get<int64_t>());
    EXPECT_EQ(w.counts.del, c["words"]["del"].get<int64_t>());
    EXPECT_EQ(w.counts.sub, c["words"]["sub"].get<int64_t>());
    EXPECT_EQ(w.counts.correct, c["words"]["correct"].get<int64_t>());
    if (c["words"]["error_rate"].is_null()) {
      EXPECT_TRUE(std::isnan(w.counts.wer()));
    } else {
      EXPECT_DOUBLE_EQ(w.counts.wer(), c["words"]["error_rate"].get<double>());
    }
    ASSERT_EQ(w.pairs.size(), c["alignment"].size());
    for (size_t k = 0; k < w.pairs.size(); ++k) {
      const nlohmann::json& step = c["alignment"][k];
      EXPECT_EQ(std::string(1, w.pairs[k].op), step[0].get<std::string>()) << "step " << k;
      EXPECT_EQ(w.pairs[k].ref, step[1].get<std::string>()) << "step " << k;
      EXPECT_EQ(w.pairs[k].hyp, step[2].get<std::string>()) << "step " << k;
    }
    const Alignment ch = align_chars(ref, hyp);
    EXPECT_EQ(ch.counts.ref_words, c["chars"]["ref_tokens"].get<int64_t>());
    EXPECT_EQ(ch.counts.ins, c["chars"]["ins"].get<int64_t>());
    EXPECT_EQ(ch.counts.del, c["chars"]["del"].get<int64_t>());
    EXPECT_EQ(ch.counts.sub, c["chars"]["sub"].get<int64_t>());
    words_total += w.counts;
    chars_total += ch.counts;
  }
  // accumulatable_wer_stats over the whole table.
  EXPECT_EQ(words_total.ref_words, table["totals"]["words"]["ref_tokens"].get<int64_t>());
  EXPECT_DOUBLE_EQ(words_total.wer(), table["totals"]["words"]["error_rate"].get<double>());
  EXPECT_DOUBLE_EQ(chars_total.wer(), table["totals"]["chars"]["error_rate"].get<double>());
}

}  // namespace
}  // namespace quasr
