// SentencePieceTokenizer against python sentencepiece's decode_ids on the
// same model (tests/fixtures/text/sp_cases.json, tools/make_text_fixtures.py).
#include "text/sentencepiece_tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace quasr {
namespace {

const std::string kFixtures = std::string(QUASR_FIXTURE_DIR) + "/text";

nlohmann::json load_cases() {
  std::ifstream in(kFixtures + "/sp_cases.json");
  return nlohmann::json::parse(in);
}

TEST(SentencePieceTokenizer, MatchesPythonDecodeIds) {
  const SentencePieceTokenizer tok(kFixtures + "/tokenizer.ckpt", /*blank_id=*/0);
  const nlohmann::json ref = load_cases();
  EXPECT_EQ(tok.vocab_size(), ref["vocab_size"].get<int>());
  EXPECT_EQ(tok.blank_id(), 0);
  const auto pieces = ref["pieces"].get<std::vector<std::string>>();
  for (int i = 0; i < static_cast<int>(pieces.size()); ++i) {
    EXPECT_EQ(tok.id_to_piece(i), pieces[i]) << "id " << i;
  }
  ASSERT_GE(ref["cases"].size(), 10u);
  for (const auto& c : ref["cases"]) {
    const auto ids = c["ids"].get<std::vector<int>>();
    EXPECT_EQ(tok.decode(ids), c["text"].get<std::string>()) << c["ids"].dump();
  }
}

TEST(SentencePieceTokenizer, UnkPieceIsBlankZero) {
  const SentencePieceTokenizer tok(kFixtures + "/tokenizer.ckpt");
  EXPECT_EQ(tok.blank_id(), 0);
  EXPECT_EQ(tok.id_to_piece(0), "<unk>");
}

std::string error_of(const std::string& path, int blank = 0) {
  try {
    SentencePieceTokenizer tok(path, blank);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SentencePieceTokenizer, Errors) {
  std::string msg = error_of(kFixtures + "/missing.model");
  EXPECT_NE(msg.find("missing.model: no such file"), std::string::npos) << msg;
  msg = error_of(kFixtures + "/sp_cases.json");
  EXPECT_NE(msg.find("sp_cases.json: not a SentencePiece model"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  msg = error_of(kFixtures + "/tokenizer.ckpt", /*blank=*/60);
  EXPECT_NE(msg.find("blank id 60"), std::string::npos) << msg;

  const SentencePieceTokenizer tok(kFixtures + "/tokenizer.ckpt");
  EXPECT_THROW(tok.decode({5, 60}), Error);
  EXPECT_THROW(tok.decode({-1}), Error);
  EXPECT_THROW(tok.id_to_piece(1000), Error);
}

}  // namespace
}  // namespace quasr
