#include "text/normalize.h"

#include "text/utf8.h"

namespace quasr {
namespace {

enum class Kind { kKeep, kSpace, kDrop, kApostrophe };

bool in(char32_t cp, char32_t lo, char32_t hi) {
  return cp >= lo && cp <= hi;
}

Kind classify(char32_t cp) {
  if (cp == '\'') return Kind::kKeep;
  if (cp < 0x80) {
    if (cp <= 0x20 || cp == 0x7F) return Kind::kSpace;  // controls and space
    const bool alnum = in(cp, '0', '9') || in(cp, 'A', 'Z') || in(cp, 'a', 'z');
    return alnum ? Kind::kKeep : Kind::kSpace;  // ASCII punctuation and symbols
  }
  if (cp == 0x2018 || cp == 0x2019 || cp == 0x201B || cp == 0x02BC || cp == 0xFF07) {
    return Kind::kApostrophe;
  }
  if (in(cp, 0x80, 0xA0) || cp == 0x1680 || cp == 0x3000) return Kind::kSpace;
  if (in(cp, 0x200B, 0x200D) || cp == 0x2060 || cp == 0xFEFF) return Kind::kDrop;
  if (in(cp, 0x2000, 0x206F)) return Kind::kSpace;  // Unicode spaces + general punctuation
  if (in(cp, 0xA1, 0xBF)) {
    // Letters and digit-like signs in this block stay: ª µ º ² ³ ¹ ¼ ½ ¾.
    const bool keep = cp == 0xAA || cp == 0xB5 || cp == 0xBA || cp == 0xB2 || cp == 0xB3 ||
                      cp == 0xB9 || in(cp, 0xBC, 0xBE);
    return keep ? Kind::kKeep : Kind::kSpace;
  }
  if (cp == 0xD7 || cp == 0xF7) return Kind::kSpace;
  if (in(cp, 0x2E00, 0x2E7F) || in(cp, 0x3001, 0x303F)) return Kind::kSpace;
  if (in(cp, 0xFF01, 0xFF0F) || in(cp, 0xFF1A, 0xFF20) || in(cp, 0xFF3B, 0xFF40) ||
      in(cp, 0xFF5B, 0xFF65)) {
    return Kind::kSpace;
  }
  return Kind::kKeep;
}

}  // namespace

std::string normalize_basic(std::string text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  auto emit = [&](auto&& write) {
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    write();
  };
  for (size_t i = 0; i < text.size();) {
    const size_t start = i;
    const char32_t cp = utf8::next(text, i);
    if (cp == utf8::kInvalid) {
      emit([&] { out += text[start]; });
      continue;
    }
    switch (classify(cp)) {
      case Kind::kSpace:
        pending_space = true;
        break;
      case Kind::kDrop:
        break;
      case Kind::kApostrophe:
        emit([&] { out += '\''; });
        break;
      case Kind::kKeep:
        emit([&] { utf8::append(out, utf8::to_upper(cp)); });
        break;
    }
  }
  return out;
}

}  // namespace quasr
