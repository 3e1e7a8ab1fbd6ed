// Word and character error counting with SpeechBrain's edit-distance semantics.
//
// The alignment reproduces speechbrain/utils/edit_distance.py (op_table,
// count_ops, alignment; speechbrain@9c826ef, 2026-04): a Levenshtein table
// filled row by row over the reference, where ties between equal-cost moves
// prefer insertion over deletion over substitution/match (Kaldi compute-wer
// order), and the back-trace follows the stored operation. Equal-cost
// alignments therefore split S/D/I exactly as SpeechBrain does.
//
// Tokenisation follows SpeechBrain's recipes:
//  - words: Python's str.split() with no argument (runs of Unicode whitespace,
//    empty tokens never produced), as the quantization tutorial's compute_wer;
//  - characters: ErrorRateStats(split_tokens=True), i.e. the words joined with
//    "_" and split into Unicode code points, so each word boundary is one "_"
//    token that can itself be inserted, deleted or substituted. Like
//    SpeechBrain, a literal "_" in the text is indistinguishable from a
//    boundary.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace quasr {

// Corpus-level counts; accumulate per utterance with +=. All token counts are
// in the unit being scored (words for WER, characters for CER).
struct ErrorCounts {
  int64_t ref_words = 0;  // N: reference tokens
  int64_t hyp_words = 0;  // hypothesis tokens
  int64_t ins = 0;
  int64_t del = 0;
  int64_t sub = 0;
  int64_t correct = 0;  // tokens aligned as equal (= N - S - D)
  int64_t sentences = 0;
  int64_t sentences_with_error = 0;  // utterances with S+D+I > 0

  ErrorCounts& operator+=(const ErrorCounts& other);
  int64_t errors() const { return ins + del + sub; }
  // 100 * (S+D+I) / N; NaN when N == 0, like accumulatable_wer_stats.
  double wer() const;
  // 100 * sentences_with_error / sentences; NaN when there are none.
  double ser() const;
  bool operator==(const ErrorCounts&) const = default;
};
ErrorCounts operator+(ErrorCounts a, const ErrorCounts& b);

// One step of an alignment. op is 'C' (correct), 'S', 'D' (ref token, empty
// hyp) or 'I' (empty ref, hyp token).
struct AlignedPair {
  char op = 'C';
  std::string ref;
  std::string hyp;
  bool operator==(const AlignedPair&) const = default;
};

struct Alignment {
  ErrorCounts counts;              // sentences == 1
  std::vector<AlignedPair> pairs;  // in order; empty unless requested
};

// Python str.split(): splits on runs of Unicode whitespace (UTF-8 input).
std::vector<std::string> split_words(std::string_view text);
// SpeechBrain split_word: words joined with "_", then one token per code point.
// Bytes that are not valid UTF-8 become one token each.
std::vector<std::string> split_chars(std::string_view text);

// Aligns token sequences. Cost O(|ref|*|hyp|) time, one byte per cell.
Alignment align_tokens(const std::vector<std::string>& ref, const std::vector<std::string>& hyp,
                       bool keep_pairs);

// Word-level counts (and word alignment when keep_pairs) of one utterance.
Alignment align_words(std::string_view ref, std::string_view hyp, bool keep_pairs = true);
// Character-level counts of one utterance (CER), pairs omitted unless asked.
Alignment align_chars(std::string_view ref, std::string_view hyp, bool keep_pairs = false);

}  // namespace quasr
