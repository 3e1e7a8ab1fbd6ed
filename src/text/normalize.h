// Text normalisation for WER/CER scoring (`--normalize basic`).
#pragma once

#include <string>

namespace quasr {

// Input and output are UTF-8. Applied identically to hypothesis and reference:
//   - letters are upper-cased (ASCII, Latin-1, Latin Extended-A, Greek,
//     Cyrillic; other scripts pass through; "ß" stays "ß");
//   - typographic apostrophes (U+2018, U+2019, U+201B, U+02BC, U+FF07) become
//     "'", and apostrophes are kept ("don't" -> "DON'T");
//   - every other punctuation mark or symbol (ASCII punctuation, U+00A1..U+00BF
//     marks, U+00D7, U+00F7, U+2010..U+206F, U+2E00..U+2E7F, U+3001..U+303F,
//     fullwidth ASCII punctuation) becomes a space, so "well-known" -> "WELL KNOWN"
//     and "U.S.A." -> "U S A" (as Whisper's basic normaliser);
//   - control characters and Unicode spaces are whitespace; zero-width
//     characters (U+200B..U+200D, U+2060, U+FEFF) are removed;
//   - whitespace runs collapse to one space, and the ends are trimmed;
//   - digits and all other characters are kept; invalid UTF-8 bytes pass through.
std::string normalize_basic(std::string text);

}  // namespace quasr
