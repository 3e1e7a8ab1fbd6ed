#include "text/char_vocab_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "text/utf8.h"

namespace quasr {
namespace {

using nlohmann::json;

std::optional<json> read_json(const std::string& path, bool required) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (required || std::filesystem::exists(path)) {
      throw Error(path + (std::filesystem::exists(path) ? ": cannot read file" : ": no such file"));
    }
    return std::nullopt;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return json::parse(buffer.str());
  } catch (const json::parse_error& e) {
    throw Error(path + ": invalid JSON (" + e.what() + ")");
  }
}

// {token: id} -> map; ids must be non-negative integers.
void read_token_map(const json& j, const std::string& path,
                    std::unordered_map<std::string, int>& to_id,
                    std::unordered_map<int, std::string>& to_token) {
  if (!j.is_object()) {
    throw Error(path + ": expected a JSON object {token: id}, got " + std::string(j.type_name()));
  }
  for (const auto& [token, id] : j.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
      throw Error(path + ": id of token \"" + token + "\" must be a non-negative integer, got " +
                  id.dump());
    }
    const int value = id.get<int>();
    to_id[token] = value;
    to_token[value] = token;
  }
}

// Special-token values are strings, null, or AddedToken objects {"content": ...}.
std::string token_value(const json& v, const std::string& path, const std::string& key) {
  if (v.is_null()) return std::string();
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    return v["content"].get<std::string>();
  }
  throw Error(path + ": \"" + key + "\" must be a string, null or {\"content\": ...}, got " +
              v.dump());
}

bool bool_value(const json& v, const std::string& path, const std::string& key) {
  if (!v.is_boolean()) throw Error(path + ": \"" + key + "\" must be true/false, got " + v.dump());
  return v.get<bool>();
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string strip(const std::string& s) {
  size_t begin = 0;
  size_t end = s.size();
  while (begin < end && is_space(s[begin])) ++begin;
  while (end > begin && is_space(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

// transformers' PreTrainedTokenizerBase.clean_up_tokenization, same order.
std::string clean_up_tokenization(std::string s) {
  static const char* const kRules[][2] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& rule : kRules) replace_all(s, rule[0], rule[1]);
  return s;
}

}  // namespace

CharVocabTokenizer::CharVocabTokenizer(const std::string& dir, std::optional<int> pad_token_id) {
  const std::string vocab_path = (std::filesystem::path(dir) / "vocab.json").string();
  read_token_map(*read_json(vocab_path, /*required=*/true), vocab_path, token_to_id_, id_to_token_);
  if (token_to_id_.empty()) throw Error(vocab_path + ": vocabulary is empty");
  const std::string added_path = (std::filesystem::path(dir) / "added_tokens.json").string();
  if (auto added = read_json(added_path, /*required=*/false)) {
    read_token_map(*added, added_path, token_to_id_, id_to_token_);
  }
  read_config(dir);

  for (const auto& [id, token] : id_to_token_) vocab_size_ = std::max(vocab_size_, id + 1);
  if (pad_token_id) {
    if (*pad_token_id < 0) {
      throw Error(vocab_path + ": pad_token_id must be >= 0, got " + std::to_string(*pad_token_id));
    }
    blank_id_ = *pad_token_id;
  } else {
    const int id = token_to_id(pad_token_);
    if (id < 0) {
      throw Error(vocab_path + ": pad token \"" + pad_token_ +
                  "\" (the CTC blank) is not in the vocabulary and no pad_token_id was given");
    }
    blank_id_ = id;
  }
}

void CharVocabTokenizer::read_config(const std::string& dir) {
  const auto apply = [&](const std::string& name) {
    const std::string path = (std::filesystem::path(dir) / name).string();
    auto config = read_json(path, /*required=*/false);
    if (!config) return;
    if (!config->is_object()) throw Error(path + ": expected a JSON object");
    const std::pair<const char*, std::string*> tokens[] = {
        {"pad_token", &pad_token_},
        {"unk_token", &unk_token_},
        {"bos_token", &bos_token_},
        {"eos_token", &eos_token_},
        {"word_delimiter_token", &word_delimiter_},
        {"replace_word_delimiter_char", &word_delimiter_replacement_}};
    for (const auto& [key, target] : tokens) {
      if (config->contains(key)) *target = token_value((*config)[key], path, key);
    }
    if (config->contains("do_lower_case")) {
      do_lower_case_ = bool_value((*config)["do_lower_case"], path, "do_lower_case");
    }
    if (config->contains("clean_up_tokenization_spaces")) {
      clean_up_spaces_ = bool_value((*config)["clean_up_tokenization_spaces"], path,
                                    "clean_up_tokenization_spaces");
    }
    if (config->contains("additional_special_tokens")) {
      const json& extra = (*config)["additional_special_tokens"];
      if (!extra.is_array()) throw Error(path + ": \"additional_special_tokens\" must be a list");
      for (const json& t : extra) {
        special_tokens_.insert(token_value(t, path, "additional_special_tokens"));
      }
    }
    // Newer transformers list added tokens by id in tokenizer_config.json.
    if (config->contains("added_tokens_decoder") && (*config)["added_tokens_decoder"].is_object()) {
      for (const auto& [key, value] : (*config)["added_tokens_decoder"].items()) {
        int id = -1;
        try {
          id = std::stoi(key);
        } catch (const std::exception&) {
          throw Error(path + ": added_tokens_decoder key \"" + key + "\" is not an integer id");
        }
        const std::string token = token_value(value, path, "added_tokens_decoder");
        id_to_token_[id] = token;
        token_to_id_[token] = id;
      }
    }
  };
  apply("tokenizer_config.json");
  apply("special_tokens_map.json");  // transformers lets it override the config
  for (const std::string* t : {&pad_token_, &unk_token_, &bos_token_, &eos_token_}) {
    if (!t->empty()) special_tokens_.insert(*t);
  }
}

int CharVocabTokenizer::token_to_id(const std::string& token) const {
  const auto it = token_to_id_.find(token);
  return it == token_to_id_.end() ? -1 : it->second;
}

std::string CharVocabTokenizer::id_to_piece(int id) const {
  const auto it = id_to_token_.find(id);
  return it == id_to_token_.end() ? unk_token_ : it->second;
}

std::string CharVocabTokenizer::decode(const std::vector<int>& ids) const {
  std::string text;
  for (int id : ids) {
    const std::string token = id_to_piece(id);
    if (!pad_token_.empty() && token == pad_token_) continue;
    if (skip_special_tokens_ && special_tokens_.count(token)) continue;
    text += (!word_delimiter_.empty() && token == word_delimiter_) ? word_delimiter_replacement_
                                                                   : token;
  }
  text = strip(text);
  if (do_lower_case_) text = utf8::lower(text);
  if (clean_up_spaces_) text = clean_up_tokenization(std::move(text));
  return text;
}

}  // namespace quasr
