// SentencePiece CTC tokenizer (SpeechBrain's tokenizer.ckpt is a raw .model).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "text/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace quasr {

// decode() equals sentencepiece's DecodeIds (Python: sp.decode_ids), which is
// what SpeechBrain's EncoderASR calls after ctc_greedy_decode: pieces joined,
// "\xe2\x96\x81" (U+2581) -> space, leading space removed, control pieces
// (<s>, </s>) dropped, <unk> rendered as " \xe2\x81\x87 " (U+2047).
class SentencePieceTokenizer : public Tokenizer {
 public:
  // blank_id: the CTC blank (SpeechBrain: 0, which is also <unk>).
  // Throws quasr::Error: missing file, not a SentencePiece model, blank_id
  // outside [0, vocab_size).
  explicit SentencePieceTokenizer(const std::string& model_path, int blank_id = 0);
  ~SentencePieceTokenizer() override;

  int vocab_size() const override;
  int blank_id() const override { return blank_id_; }
  // Throws quasr::Error on an id outside [0, vocab_size).
  std::string decode(const std::vector<int>& ids) const override;
  // Throws quasr::Error on an id outside [0, vocab_size).
  std::string id_to_piece(int id) const override;

 private:
  void check_id(int id) const;

  std::string path_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  int blank_id_ = 0;
};

}  // namespace quasr
