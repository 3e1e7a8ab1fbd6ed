// Character-vocabulary CTC tokenizer of Hugging Face wav2vec2 / HuBERT folders.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "text/tokenizer.h"

namespace quasr {

// Reads, from `dir`:
//   vocab.json               {token: id}  (required)
//   added_tokens.json        {token: id}  (optional, merged over vocab.json)
//   tokenizer_config.json    (optional) pad_token "<pad>", unk_token "<unk>",
//                            bos_token "<s>", eos_token "</s>", word_delimiter_token "|",
//                            replace_word_delimiter_char " ", do_lower_case false,
//                            clean_up_tokenization_spaces true,
//                            additional_special_tokens, added_tokens_decoder
//   special_tokens_map.json  (optional, overrides the special tokens above)
// Token values may be strings, null (token unset) or {"content": ...} objects.
//
// blank_id(): pad_token_id when given (config.json's pad_token_id), else the id
// of pad_token in the vocabulary.
//
// decode() reproduces Wav2Vec2CTCTokenizer.batch_decode(pred_ids) with its
// defaults (skip_special_tokens=False, clean_up_tokenization_spaces from the
// config, default True), applied to ids that are already CTC-collapsed:
//   1. id -> token; an id missing from the vocabulary becomes unk_token;
//   2. with skip_special_tokens (off by default) bos/eos/unk/additional
//      special tokens are dropped, so by default "<s>", "</s>", "<unk>"
//      appear literally in the text, as in transformers;
//   3. tokens equal to pad_token are dropped (the CTC blank);
//   4. word_delimiter_token -> replace_word_delimiter_char (" ");
//   5. concatenate, strip leading/trailing whitespace. Inner runs of spaces are
//      NOT collapsed (transformers keeps "A  B" when "|" "|" is decoded);
//   6. do_lower_case -> lowercase (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic);
//   7. clean_up_tokenization_spaces -> transformers' clean_up_tokenization:
//      " ." "." , " ?" "?", " !" "!", " ," ",", " ' " "'", " n't" "n't",
//      " 'm" "'m", " 's" "'s", " 've" "'ve", " 're" "'re" (in that order).
class CharVocabTokenizer : public Tokenizer {
 public:
  // Throws quasr::Error: missing/malformed vocab.json, non-integer or negative
  // ids, malformed optional files, no way to find the blank id.
  explicit CharVocabTokenizer(const std::string& dir,
                              std::optional<int> pad_token_id = std::nullopt);

  int vocab_size() const override { return vocab_size_; }
  int blank_id() const override { return blank_id_; }
  std::string decode(const std::vector<int>& ids) const override;
  // The token of `id`; unk_token (as transformers) when the id has no entry.
  std::string id_to_piece(int id) const override;

  // transformers' skip_special_tokens=True behaviour; default false.
  void set_skip_special_tokens(bool skip) { skip_special_tokens_ = skip; }

  const std::string& word_delimiter_token() const { return word_delimiter_; }
  const std::string& pad_token() const { return pad_token_; }
  const std::string& unk_token() const { return unk_token_; }
  // Id of a token, or -1 when it is not in the vocabulary.
  int token_to_id(const std::string& token) const;

 private:
  void read_config(const std::string& dir);

  std::unordered_map<std::string, int> token_to_id_;
  std::unordered_map<int, std::string> id_to_token_;
  std::unordered_set<std::string> special_tokens_;  // skipped when skip_special_tokens_
  std::string pad_token_ = "<pad>";
  std::string unk_token_ = "<unk>";
  std::string bos_token_ = "<s>";
  std::string eos_token_ = "</s>";
  std::string word_delimiter_ = "|";
  std::string word_delimiter_replacement_ = " ";
  bool do_lower_case_ = false;
  bool clean_up_spaces_ = true;
  bool skip_special_tokens_ = false;
  int vocab_size_ = 0;
  int blank_id_ = 0;
};

}  // namespace quasr
