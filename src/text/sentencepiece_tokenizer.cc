#include "text/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <filesystem>

#include "core/error.h"

namespace quasr {

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& model_path, int blank_id)
    : path_(model_path),
      sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()),
      blank_id_(blank_id) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model_path, ec)) {
    throw Error(model_path + ": no such file (expected a SentencePiece model)");
  }
  const auto status = sp_->Load(model_path);
  if (!status.ok()) {
    throw Error(model_path + ": not a SentencePiece model (sentencepiece: " +
                std::string(status.message()) + ")");
  }
  if (blank_id < 0 || blank_id >= vocab_size()) {
    throw Error(model_path + ": CTC blank id " + std::to_string(blank_id) +
                " is outside the vocabulary [0, " + std::to_string(vocab_size()) + ")");
  }
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

int SentencePieceTokenizer::vocab_size() const {
  return sp_->GetPieceSize();
}

void SentencePieceTokenizer::check_id(int id) const {
  if (id < 0 || id >= vocab_size()) {
    throw Error(path_ + ": token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                std::to_string(vocab_size()) + ")");
  }
}

std::string SentencePieceTokenizer::decode(const std::vector<int>& ids) const {
  for (int id : ids) check_id(id);
  std::string text;
  const auto status = sp_->Decode(ids, &text);
  if (!status.ok()) {
    throw Error(path_ + ": cannot decode ids (sentencepiece: " + std::string(status.message()) +
                ")");
  }
  return text;
}

std::string SentencePieceTokenizer::id_to_piece(int id) const {
  check_id(id);
  return sp_->IdToPiece(id);
}

}  // namespace quasr
