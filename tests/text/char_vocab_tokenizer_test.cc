// CharVocabTokenizer against hand-derived Wav2Vec2CTCTokenizer.batch_decode
// results (transformers defaults: skip_special_tokens=False,
// clean_up_tokenization_spaces=True) on the fixture vocabularies.
#include "text/char_vocab_tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace quasr {
namespace {

namespace fs = std::filesystem;

const std::string kFixtures = std::string(QUASR_FIXTURE_DIR) + "/text";

// base-960h ids: <pad>0 <s>1 </s>2 <unk>3 |4 E5 T6 A7 O8 N9 I10 H11 S12 R13
// D14 L15 U16 M17 W18 C19 F20 G21 Y22 P23 B24 V25 K26 '27 X28 J29 Q30 Z31
class Base960h : public ::testing::Test {
 protected:
  CharVocabTokenizer tok_{kFixtures + "/hf_base960h"};
};

TEST_F(Base960h, SizesAndBlank) {
  EXPECT_EQ(tok_.vocab_size(), 32);
  EXPECT_EQ(tok_.blank_id(), 0);
  EXPECT_EQ(tok_.id_to_piece(4), "|");
  EXPECT_EQ(tok_.id_to_piece(27), "'");
  EXPECT_EQ(tok_.token_to_id("Z"), 31);
  EXPECT_EQ(tok_.token_to_id("?"), -1);
}

TEST_F(Base960h, WordDelimiterBecomesSpace) {
  // H E L L O | W O R L D
  EXPECT_EQ(tok_.decode({11, 5, 15, 15, 8, 4, 18, 8, 13, 15, 14}), "HELLO WORLD");
}

TEST_F(Base960h, EndsStrippedInnerSpacesKept) {
  EXPECT_EQ(tok_.decode({4, 11, 10, 4}), "HI");   // | H I |
  EXPECT_EQ(tok_.decode({7, 4, 4, 24}), "A  B");  // A | | B: transformers keeps both
  EXPECT_EQ(tok_.decode({4, 4}), "");
  EXPECT_EQ(tok_.decode({}), "");
}

TEST_F(Base960h, PadIsDroppedSpecialTokensKept) {
  EXPECT_EQ(tok_.decode({0, 7, 0}), "A");
  EXPECT_EQ(tok_.decode({1, 7, 2}), "<s>A</s>");
  EXPECT_EQ(tok_.decode({7, 4, 3}), "A <unk>");
  EXPECT_EQ(tok_.decode({7, 99}), "A<unk>");  // unknown id -> unk_token
  EXPECT_EQ(tok_.id_to_piece(99), "<unk>");
}

TEST_F(Base960h, SkipSpecialTokens) {
  tok_.set_skip_special_tokens(true);
  EXPECT_EQ(tok_.decode({1, 7, 4, 3, 4, 24, 2}), "A  B");
}

TEST_F(Base960h, UppercaseApostropheUntouchedByCleanUp) {
  // I T | ' S : clean-up rules are lower-case (" 's"), so nothing changes.
  EXPECT_EQ(tok_.decode({10, 6, 4, 27, 12}), "IT 'S");
  // I T ' S
  EXPECT_EQ(tok_.decode({10, 6, 27, 12}), "IT'S");
}

// Fine-tuning layout: ' a..z | [UNK] [PAD], so ' = 0, a = 1, ..., z = 26,
// | = 27, [UNK] = 28, [PAD] = 29 (the blank, given as an AddedToken object).
int id(char c) {
  return c == '\'' ? 0 : c == '|' ? 27 : c - 'a' + 1;
}
std::vector<int> ids(const std::string& s) {
  std::vector<int> out;
  for (char c : s) out.push_back(id(c));
  return out;
}

TEST(FineTuneLayout, BlankIsLastAndCleanUpApplies) {
  CharVocabTokenizer tok(kFixtures + "/hf_finetune");
  EXPECT_EQ(tok.vocab_size(), 30);
  EXPECT_EQ(tok.blank_id(), 29);
  EXPECT_EQ(tok.pad_token(), "[PAD]");
  EXPECT_EQ(tok.decode(ids("hello|world")), "hello world");
  EXPECT_EQ(tok.decode(ids("it|'s")), "it's");    // " 's" -> "'s"
  EXPECT_EQ(tok.decode(ids("do|n't")), "don't");  // " n't" -> "n't"
  EXPECT_EQ(tok.decode(ids("a|'|b")), "a'b");     // " ' " -> "'"
  EXPECT_EQ(tok.decode(ids("we|'re")), "we're");
  EXPECT_EQ(tok.decode({1, 29, 28}), "a[UNK]");  // [PAD] dropped, [UNK] kept
  // bos/eos are null in this config, so "<s>" is not special here.
  tok.set_skip_special_tokens(true);
  EXPECT_EQ(tok.decode({1, 28, 2}), "ab");
}

TEST(FineTuneLayout, ExplicitPadTokenIdWins) {
  CharVocabTokenizer tok(kFixtures + "/hf_finetune", /*pad_token_id=*/28);
  EXPECT_EQ(tok.blank_id(), 28);
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("quasr_text_test_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::string error_of(std::optional<int> pad = std::nullopt) {
    try {
      CharVocabTokenizer tok(dir_.string(), pad);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(TempDir, MissingVocab) {
  const std::string msg = error_of();
  EXPECT_NE(msg.find("vocab.json: no such file"), std::string::npos) << msg;
}

TEST_F(TempDir, MalformedVocab) {
  write("vocab.json", "{\"<pad>\": 0, \"A\": ");
  std::string msg = error_of();
  EXPECT_NE(msg.find("vocab.json: invalid JSON"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  write("vocab.json", "[1, 2]");
  msg = error_of();
  EXPECT_NE(msg.find("expected a JSON object"), std::string::npos) << msg;
  write("vocab.json", "{\"<pad>\": \"zero\"}");
  msg = error_of();
  EXPECT_NE(msg.find("non-negative integer"), std::string::npos) << msg;
}

TEST_F(TempDir, MalformedConfig) {
  write("vocab.json", "{\"<pad>\": 0, \"A\": 1}");
  write("tokenizer_config.json", "{oops");
  const std::string msg = error_of();
  EXPECT_NE(msg.find("tokenizer_config.json: invalid JSON"), std::string::npos) << msg;
}

TEST_F(TempDir, NoBlank) {
  write("vocab.json", "{\"A\": 0, \"B\": 1}");
  const std::string msg = error_of();
  EXPECT_NE(msg.find("pad token \"<pad>\""), std::string::npos) << msg;
  EXPECT_EQ(error_of(/*pad=*/1), "");  // config.json's pad_token_id resolves it
}

TEST_F(TempDir, LowerCaseAndCustomDelimiter) {
  write("vocab.json", "{\"<pad>\": 0, \"H\": 1, \"I\": 2, \"_\": 3, \"\xc3\x89\": 4}");
  write("tokenizer_config.json", "{\"word_delimiter_token\": \"_\", \"do_lower_case\": true}");
  CharVocabTokenizer tok(dir_.string());
  EXPECT_EQ(tok.decode({1, 2, 3, 4}), "hi \xc3\xa9");  // "HI_É" -> "hi é"
}

}  // namespace
}  // namespace quasr
