#include "eval/edit_distance.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace quasr {
namespace {

// Decodes one UTF-8 sequence at text[pos]. Returns its length in bytes (1 for
// an invalid byte, which then stands for itself) and the code point or -1.
size_t utf8_next(std::string_view text, size_t pos, int32_t* code_point) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  size_t length = 0;
  int32_t cp = 0;
  if (lead < 0x80) {
    *code_point = lead;
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2;
    cp = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    cp = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    cp = lead & 0x07;
  } else {
    *code_point = -1;
    return 1;
  }
  if (pos + length > text.size()) {
    *code_point = -1;
    return 1;
  }
  for (size_t i = 1; i < length; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) {
      *code_point = -1;
      return 1;
    }
    cp = (cp << 6) | (byte(pos + i) & 0x3F);
  }
  static constexpr int32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    *code_point = -1;
    return 1;
  }
  *code_point = cp;
  return length;
}

// The code points for which Python's str.isspace() is true.
bool is_python_space(int32_t cp) {
  if ((cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20)) return true;
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

enum Op : char { kEq = '=', kIns = 'I', kDel = 'D', kSub = 'S' };

}  // namespace

ErrorCounts& ErrorCounts::operator+=(const ErrorCounts& other) {
  ref_words += other.ref_words;
  hyp_words += other.hyp_words;
  ins += other.ins;
  del += other.del;
  sub += other.sub;
  correct += other.correct;
  sentences += other.sentences;
  sentences_with_error += other.sentences_with_error;
  return *this;
}

ErrorCounts operator+(ErrorCounts a, const ErrorCounts& b) {
  return a += b;
}

double ErrorCounts::wer() const {
  if (ref_words == 0) return std::numeric_limits<double>::quiet_NaN();
  return 100.0 * static_cast<double>(errors()) / static_cast<double>(ref_words);
}

double ErrorCounts::ser() const {
  if (sentences == 0) return std::numeric_limits<double>::quiet_NaN();
  return 100.0 * static_cast<double>(sentences_with_error) / static_cast<double>(sentences);
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  size_t start = std::string_view::npos;
  size_t pos = 0;
  while (pos < text.size()) {
    int32_t cp = 0;
    const size_t length = utf8_next(text, pos, &cp);
    if (is_python_space(cp)) {
      if (start != std::string_view::npos) words.emplace_back(text.substr(start, pos - start));
      start = std::string_view::npos;
    } else if (start == std::string_view::npos) {
      start = pos;
    }
    pos += length;
  }
  if (start != std::string_view::npos) words.emplace_back(text.substr(start));
  return words;
}

std::vector<std::string> split_chars(std::string_view text) {
  std::vector<std::string> chars;
  const std::vector<std::string> words = split_words(text);
  for (size_t w = 0; w < words.size(); ++w) {
    if (w > 0) chars.emplace_back("_");
    const std::string& word = words[w];
    for (size_t pos = 0; pos < word.size();) {
      int32_t cp = 0;
      const size_t length = utf8_next(word, pos, &cp);
      chars.push_back(word.substr(pos, length));
      pos += length;
    }
  }
  return chars;
}

Alignment align_tokens(const std::vector<std::string>& ref, const std::vector<std::string>& hyp,
                       bool keep_pairs) {
  const size_t rows = ref.size() + 1;
  const size_t cols = hyp.size() + 1;
  // Operation table as in SpeechBrain's op_table: row 0 is all insertions,
  // column 0 all deletions, and cell (i, j) holds the move that reached it.
  std::vector<char> table(rows * cols, kEq);
  for (size_t i = 1; i < rows; ++i) table[i * cols] = kDel;
  for (size_t j = 1; j < cols; ++j) table[j] = kIns;
  std::vector<int64_t> prev_row(cols);
  std::vector<int64_t> curr_row(cols, 0);
  for (size_t j = 0; j < cols; ++j) prev_row[j] = static_cast<int64_t>(j);
  for (size_t i = 1; i < rows; ++i) {
    curr_row[0] = static_cast<int64_t>(i);
    for (size_t j = 1; j < cols; ++j) {
      const int64_t insertion_cost = curr_row[j - 1] + 1;
      const int64_t deletion_cost = prev_row[j] + 1;
      const bool differ = ref[i - 1] != hyp[j - 1];
      const int64_t substitution_cost = prev_row[j - 1] + (differ ? 1 : 0);
      // Strict comparisons: a tie goes to insertion, then deletion.
      if (substitution_cost < insertion_cost && substitution_cost < deletion_cost) {
        curr_row[j] = substitution_cost;
        if (differ) table[i * cols + j] = kSub;
      } else if (deletion_cost < insertion_cost) {
        curr_row[j] = deletion_cost;
        table[i * cols + j] = kDel;
      } else {
        curr_row[j] = insertion_cost;
        table[i * cols + j] = kIns;
      }
    }
    prev_row.swap(curr_row);
  }

  Alignment result;
  ErrorCounts& counts = result.counts;
  counts.ref_words = static_cast<int64_t>(ref.size());
  counts.hyp_words = static_cast<int64_t>(hyp.size());
  counts.sentences = 1;
  size_t i = rows - 1;
  size_t j = cols - 1;
  while (i != 0 || j != 0) {
    const char op = i == 0 ? char{kIns} : (j == 0 ? char{kDel} : table[i * cols + j]);
    AlignedPair pair;
    switch (op) {
      case kIns:
        --j;
        ++counts.ins;
        pair = {'I', "", hyp[j]};
        break;
      case kDel:
        --i;
        ++counts.del;
        pair = {'D', ref[i], ""};
        break;
      case kSub:
        --i;
        --j;
        ++counts.sub;
        pair = {'S', ref[i], hyp[j]};
        break;
      default:
        --i;
        --j;
        ++counts.correct;
        pair = {'C', ref[i], hyp[j]};
        break;
    }
    if (keep_pairs) result.pairs.push_back(std::move(pair));
  }
  std::reverse(result.pairs.begin(), result.pairs.end());
  counts.sentences_with_error = counts.errors() > 0 ? 1 : 0;
  return result;
}

Alignment align_words(std::string_view ref, std::string_view hyp, bool keep_pairs) {
  return align_tokens(split_words(ref), split_words(hyp), keep_pairs);
}

Alignment align_chars(std::string_view ref, std::string_view hyp, bool keep_pairs) {
  return align_tokens(split_chars(ref), split_chars(hyp), keep_pairs);
}

}  // namespace quasr
