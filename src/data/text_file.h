// Line-oriented text file reading shared by the dataset readers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace quasr {

struct TextLine {
  int64_t number = 0;  // 1-based
  std::string text;    // without the line terminator
};

// Reads a whole file as bytes, dropping a leading UTF-8 BOM. Throws
// quasr::Error naming the file when it cannot be opened.
std::string read_text_file(const std::string& path);
// Splits into lines on "\n", "\r\n" or a lone "\r"; a final terminator does
// not start an extra empty line.
std::vector<TextLine> split_lines(std::string_view text);
bool is_valid_utf8(std::string_view text);
// Trims ASCII whitespace (space, \t, \n, \v, \f, \r) from both ends.
std::string trim_ascii(std::string_view text);

}  // namespace quasr
