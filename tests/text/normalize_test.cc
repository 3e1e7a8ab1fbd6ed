// normalize_basic on hand-written cases.
#include "text/normalize.h"

#include <gtest/gtest.h>

namespace quasr {
namespace {

TEST(NormalizeBasic, AsciiPunctuationAndCase) {
  EXPECT_EQ(normalize_basic("Hello, world!"), "HELLO WORLD");
  EXPECT_EQ(normalize_basic("  don't   stop  "), "DON'T STOP");
  EXPECT_EQ(normalize_basic("well-known U.S.A. (really?)"), "WELL KNOWN U S A REALLY");
  EXPECT_EQ(normalize_basic("42 apples; 7 pears"), "42 APPLES 7 PEARS");
  EXPECT_EQ(normalize_basic("a\tb\nc\r\n"), "A B C");
  EXPECT_EQ(normalize_basic("'TIS THE DOGS' BONE"), "'TIS THE DOGS' BONE");
}

TEST(NormalizeBasic, EmptyAndPunctuationOnly) {
  EXPECT_EQ(normalize_basic(""), "");
  EXPECT_EQ(normalize_basic("!!! ... ---"), "");
}

TEST(NormalizeBasic, TypographicMarks) {
  // It’s  “quoted” — text…
  EXPECT_EQ(normalize_basic(
                "It\xe2\x80\x99s \xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x80\x94 text\xe2\x80\xa6"),
            "IT'S QUOTED TEXT");
  // zero-width space is removed, no-break space is a space
  EXPECT_EQ(normalize_basic("zero\xe2\x80\x8bwidth\xc2\xa0gap"), "ZEROWIDTH GAP");
  // ¿Qué? ¡Sí!
  EXPECT_EQ(normalize_basic("\xc2\xbfQu\xc3\xa9? \xc2\xa1S\xc3\xad!"), "QU\xc3\x89 S\xc3\x8d");
}

TEST(NormalizeBasic, NonAsciiLetters) {
  // café naïve Ærøskøbing -> CAFÉ NAÏVE ÆRØSKØBING
  EXPECT_EQ(normalize_basic("caf\xc3\xa9 na\xc3\xafve \xc3\x86r\xc3\xb8sk\xc3\xb8"
                            "bing"),
            "CAF\xc3\x89 NA\xc3\x8fVE \xc3\x86R\xc3\x98SK\xc3\x98"
            "BING");
  // łódź őr -> ŁÓDŹ ŐR (Latin Extended-A, both parities)
  EXPECT_EQ(normalize_basic("\xc5\x82\xc3\xb3\x64\xc5\xba \xc5\x91r"),
            "\xc5\x81\xc3\x93\x44\xc5\xb9 \xc5\x90R");
  // Straße keeps ß
  EXPECT_EQ(normalize_basic("Stra\xc3\x9f"
                            "e"),
            "STRA\xc3\x9f"
            "E");
  // привет -> ПРИВЕТ
  EXPECT_EQ(normalize_basic("\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"),
            "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2");
  // λόγος -> ΛΌΓΟΣ (final sigma -> Σ)
  EXPECT_EQ(normalize_basic("\xce\xbb\xcf\x8c\xce\xb3\xce\xbf\xcf\x82"),
            "\xce\x9b\xce\x8c\xce\x93\xce\x9f\xce\xa3");
}

TEST(NormalizeBasic, InvalidUtf8PassesThrough) {
  EXPECT_EQ(normalize_basic("a\xff"
                            "b"),
            "A\xff"
            "B");
}

}  // namespace
}  // namespace quasr
