// Token ids -> text for CTC models.
//
// A Tokenizer turns the output of the CTC decoder (ids already collapsed, with
// blanks removed; see decode/ctc_greedy.h) into a transcript. Implementations:
//   - CharVocabTokenizer (text/char_vocab_tokenizer.h): Hugging Face
//     vocab.json + tokenizer_config.json, as Wav2Vec2CTCTokenizer.
//   - SentencePieceTokenizer (text/sentencepiece_tokenizer.h): SpeechBrain's
//     tokenizer.ckpt (a raw SentencePiece .model).
// Tokenizers are immutable after construction; const methods are thread-safe.
#pragma once

#include <string>
#include <vector>

namespace quasr {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Number of ids the tokenizer can map (max id + 1); the CTC output layer is
  // expected to have this many rows.
  virtual int vocab_size() const = 0;
  // CTC blank id: pass it to ctc_greedy_decode.
  virtual int blank_id() const = 0;
  // `ids` are CTC-collapsed with blanks removed; they are NOT collapsed again.
  // Throws quasr::Error on an id the tokenizer cannot map (see each class).
  virtual std::string decode(const std::vector<int>& ids) const = 0;
  // The vocabulary entry of one id (e.g. "|", "\xe2\x96\x81THE").
  virtual std::string id_to_piece(int id) const = 0;
};

}  // namespace quasr
