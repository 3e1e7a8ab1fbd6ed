#include "eval/summary_table.h"

#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <string_view>

namespace quasr {
namespace {

std::string percent_cell(double value) {
  char buffer[32];
  if (std::isnan(value)) {
    std::snprintf(buffer, sizeof(buffer), "%6s", "n/a");
  } else {
    std::snprintf(buffer, sizeof(buffer), "%6.1f", value);
  }
  return buffer;
}

double share(int64_t part, int64_t whole) {
  return whole == 0 ? std::nan("") : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

// Pads or truncates text to exactly width columns (byte-wise; titles are
// model names, usually ASCII).
std::string centered(const std::string& text, size_t width) {
  if (text.size() >= width) return text.substr(0, width);
  const size_t left = (width - text.size()) / 2;
  return std::string(left, ' ') + text + std::string(width - text.size() - left, ' ');
}

}  // namespace

std::string summary_table(const ErrorCounts& counts, const std::string& title,
                          const std::string& count_label) {
  char snt_wrd[64];
  std::snprintf(snt_wrd, sizeof(snt_wrd), " %5lld %7lld ", static_cast<long long>(counts.sentences),
                static_cast<long long>(counts.ref_words));
  const int64_t n = counts.ref_words;
  std::string scores = " ";
  for (double value :
       {share(counts.correct, n), share(counts.sub, n), share(counts.del, n), share(counts.ins, n),
        share(counts.errors(), n), share(counts.sentences_with_error, counts.sentences)}) {
    scores += percent_cell(value);
    scores += ' ';
  }
  const std::string spkr_head = " SPKR    ";
  const std::string spkr_row = " Sum/Avg ";
  char counts_head_text[32];
  std::snprintf(counts_head_text, sizeof(counts_head_text), " # Snt   %5.5s ", count_label.c_str());
  const std::string counts_head = counts_head_text;
  const std::string scores_head = "   Corr    Sub    Del    Ins    Err  S.Err ";
  const size_t inner = spkr_head.size() + 1 + counts_head.size() + 1 + scores_head.size();

  // Appending piece by piece avoids GCC 12's false -Wrestrict on "lit" + string&&.
  const auto line = [](std::string& out, std::initializer_list<std::string_view> parts) {
    for (std::string_view part : parts) out.append(part);
    out.push_back('\n');
  };
  const std::string rule(inner, '-');
  std::string out;
  line(out, {",", rule, "."});
  line(out, {"|", centered(title, inner), "|"});
  line(out, {"|", rule, "|"});
  line(out, {"|", spkr_head, "|", counts_head, "|", scores_head, "|"});
  line(out, {"|", std::string(spkr_head.size(), '-'), "+", std::string(counts_head.size(), '-'),
             "+", std::string(scores_head.size(), '-'), "|"});
  line(out, {"|", spkr_row, "|", snt_wrd, "|", scores, "|"});
  line(out, {"`", rule, "'"});
  return out;
}

}  // namespace quasr
