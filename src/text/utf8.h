// Minimal UTF-8 helpers for the text layer (internal).
#pragma once

#include <cstddef>
#include <string>

namespace quasr::utf8 {

// Decodes the code point starting at s[i] and advances i. Invalid or
// truncated sequences yield kInvalid and advance one byte.
inline constexpr char32_t kInvalid = 0xFFFFFFFF;
char32_t next(const std::string& s, size_t& i);
void append(std::string& out, char32_t cp);

// Simple (one-to-one) case mappings for ASCII, Latin-1, Latin Extended-A,
// Greek and Cyrillic; other code points map to themselves.
char32_t to_upper(char32_t cp);
char32_t to_lower(char32_t cp);

std::string upper(const std::string& s);
std::string lower(const std::string& s);

}  // namespace quasr::utf8
