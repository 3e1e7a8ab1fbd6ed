#include "data/readers.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/text_file.h"

namespace quasr {
namespace {

namespace fs = std::filesystem;

std::string where(const std::string& path, int64_t line) {
  return path + ":" + std::to_string(line);
}

// Paths in manifests are relative to the manifest's folder.
std::string resolve(const std::string& manifest, const std::string& audio) {
  const fs::path p(audio);
  if (p.is_absolute() || audio.empty()) return audio;
  return (fs::path(manifest).parent_path() / p).lexically_normal().string();
}

std::string strip_extension(const std::string& path) {
  const fs::path p(path);
  return p.has_extension() ? (p.parent_path() / p.stem()).generic_string() : path;
}

void check_unique_ids(const std::vector<Utterance>& utterances) {
  std::map<std::string, const Utterance*> seen;
  for (const Utterance& u : utterances) {
    const auto [it, added] = seen.emplace(u.id, &u);
    if (!added) {
      throw Error(u.source + ": duplicate utterance id '" + u.id + "' (first at " +
                  it->second->source + ")");
    }
  }
}

// One CSV record with the line it starts on.
struct CsvRecord {
  int64_t line = 0;
  std::vector<std::string> fields;
};

// Excel-dialect CSV as Python's csv module reads it with skipinitialspace.
std::vector<CsvRecord> parse_csv(const std::string& text, const std::string& path) {
  std::vector<CsvRecord> records;
  int64_t line = 1;
  size_t i = 0;
  while (i < text.size()) {
    CsvRecord record{line, {}};
    std::string field;
    bool at_field_start = true, quoted = false, record_done = false;
    while (i < text.size() && !record_done) {
      const char c = text[i];
      if (quoted) {
        if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
          field += '"', i += 2;
        } else if (c == '"') {
          quoted = false, ++i;
        } else {
          if (c == '\n' || (c == '\r' && (i + 1 >= text.size() || text[i + 1] != '\n'))) ++line;
          field += c, ++i;
        }
      } else if (c == ',') {
        record.fields.push_back(std::move(field));
        field.clear(), at_field_start = true, ++i;
      } else if (c == '\r' || c == '\n') {
        i += (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? 2 : 1;
        ++line, record_done = true;
      } else if (at_field_start && c == ' ') {
        ++i;
      } else if (at_field_start && c == '"') {
        quoted = true, at_field_start = false, ++i;
      } else {
        field += c, at_field_start = false, ++i;
      }
    }
    if (quoted) throw Error(where(path, record.line) + ": unterminated quoted field");
    record.fields.push_back(std::move(field));
    const bool blank = record.fields.size() == 1 && record.fields[0].empty();
    if (!blank) records.push_back(std::move(record));
  }
  return records;
}

std::string substitute(const std::string& value, const std::string& data_root,
                       const std::string& location) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '$') {
      out += value[i];
      continue;
    }
    size_t end = i + 1;
    while (end < value.size() && (std::isalnum(static_cast<unsigned char>(value[end])) ||
                                  value[end] == '_' || value[end] == '.')) {
      ++end;
    }
    const std::string name = value.substr(i + 1, end - i - 1);
    if (name.empty()) {
      out += '$';
      continue;
    }
    if (name != "data_root") {
      throw Error(location + ": '$" + name + "' has no replacement (only $data_root is supported)");
    }
    if (data_root.empty()) {
      throw Error(location + ": '$data_root' is used but no data root was given (--data-root)");
    }
    out += data_root;
    i = end - 1;
  }
  return out;
}

double parse_duration(const std::string& text, const std::string& location) {
  try {
    size_t used = 0;
    const double value = std::stod(text, &used);
    if (trim_ascii(text.substr(used)).empty()) return value;
  } catch (const std::exception&) {
  }
  throw Error(location + ": duration '" + text + "' is not a number");
}

Utterance manifest_entry(const nlohmann::json& row, const std::string& path,
                         const std::string& location) {
  if (!row.is_object()) throw Error(location + ": expected a JSON object");
  const auto text_field = [&](const char* key, bool required) -> std::string {
    const auto it = row.find(key);
    if (it == row.end()) {
      if (required) throw Error(location + ": missing key '" + key + "'");
      return {};
    }
    if (!it->is_string()) throw Error(location + ": '" + key + "' must be a string");
    return it->get<std::string>();
  };
  Utterance u;
  const std::string audio = text_field("audio_filepath", true);
  u.audio_path = resolve(path, audio);
  u.text = trim_ascii(text_field("text", true));
  u.id = text_field("id", false);
  if (u.id.empty()) u.id = strip_extension(audio);
  if (const auto it = row.find("duration"); it != row.end() && !it->is_null()) {
    if (!it->is_number()) throw Error(location + ": 'duration' must be a number");
    u.duration_s = it->get<double>();
  }
  u.source = location;
  return u;
}

// ROOT/<speaker>/<chapter>/*.trans.txt, lines "ID TEXT" (the tutorial's get_samples).
void collect_librispeech(const std::string& root, std::vector<Utterance>& utterances) {
  for (const fs::directory_entry& speaker : fs::directory_iterator(root)) {
    if (!speaker.is_directory()) continue;
    for (const fs::directory_entry& chapter : fs::directory_iterator(speaker.path())) {
      if (!chapter.is_directory()) continue;
      for (const fs::directory_entry& file : fs::directory_iterator(chapter.path())) {
        const std::string name = file.path().filename().string();
        if (!file.is_regular_file() || name.size() < 10 ||
            name.compare(name.size() - 10, 10, ".trans.txt") != 0) {
          continue;
        }
        const std::string path = file.path().string();
        for (const TextLine& line : split_lines(read_text_file(path))) {
          if (trim_ascii(line.text).empty()) continue;
          const size_t space = line.text.find(' ');
          Utterance u;
          u.id = line.text.substr(0, space);
          u.text = space == std::string::npos ? "" : trim_ascii(line.text.substr(space + 1));
          u.audio_path = (chapter.path() / (u.id + ".flac")).string();
          u.source = where(path, line.number);
          utterances.push_back(std::move(u));
        }
      }
    }
  }
}

}  // namespace

std::vector<Utterance> read_librispeech_tree(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error(root + ": not a directory");
  std::vector<Utterance> utterances;
  try {
    collect_librispeech(root, utterances);
  } catch (const fs::filesystem_error& e) {
    throw Error(root + ": cannot list the LibriSpeech tree: " + e.what());
  }
  if (utterances.empty()) {
    throw Error(root +
                ": no utterances found in <speaker>/<chapter>/*.trans.txt (is this a "
                "LibriSpeech split folder such as LibriSpeech/dev-clean?)");
  }
  std::sort(utterances.begin(), utterances.end(),
            [](const Utterance& a, const Utterance& b) { return a.id < b.id; });
  check_unique_ids(utterances);
  return utterances;
}

std::vector<Utterance> read_speechbrain_csv(const std::string& path, const std::string& data_root) {
  const std::vector<CsvRecord> records = parse_csv(read_text_file(path), path);
  if (records.empty()) throw Error(path + ": empty CSV (expected a header ID,duration,wav,wrd)");
  const std::vector<std::string>& header = records.front().fields;
  const auto column = [&](const std::string& name, bool required) -> int {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end() && required) {
      throw Error(where(path, records.front().line) + ": header lacks column '" + name +
                  "' (need ID, wav, wrd; duration optional)");
    }
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int id_col = column("ID", true), wav_col = column("wav", true);
  const int wrd_col = column("wrd", true), duration_col = column("duration", false);
  std::vector<Utterance> utterances;
  for (size_t r = 1; r < records.size(); ++r) {
    const CsvRecord& record = records[r];
    const std::string location = where(path, record.line);
    if (record.fields.size() != header.size()) {
      throw Error(location + ": expected " + std::to_string(header.size()) + " fields, got " +
                  std::to_string(record.fields.size()));
    }
    std::vector<std::string> fields;
    for (const std::string& f : record.fields) fields.push_back(substitute(f, data_root, location));
    Utterance u;
    u.id = fields[id_col];
    u.audio_path = fields[wav_col];
    u.text = trim_ascii(fields[wrd_col]);
    if (duration_col >= 0) u.duration_s = parse_duration(fields[duration_col], location);
    u.source = location;
    utterances.push_back(std::move(u));
  }
  check_unique_ids(utterances);
  return utterances;
}

std::vector<Utterance> read_jsonl_manifest(const std::string& path) {
  const std::string text = read_text_file(path);
  std::vector<Utterance> utterances;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {
    const nlohmann::json array = nlohmann::json::parse(text, nullptr, false);
    if (array.is_discarded() || !array.is_array()) throw Error(path + ": not a valid JSON array");
    for (size_t k = 0; k < array.size(); ++k) {
      utterances.push_back(manifest_entry(array[k], path, path + ":[" + std::to_string(k) + "]"));
    }
  } else {
    for (const TextLine& line : split_lines(text)) {
      if (trim_ascii(line.text).empty()) continue;
      const std::string location = where(path, line.number);
      const nlohmann::json row = nlohmann::json::parse(line.text, nullptr, false);
      if (row.is_discarded()) throw Error(location + ": not valid JSON");
      utterances.push_back(manifest_entry(row, path, location));
    }
  }
  check_unique_ids(utterances);
  return utterances;
}

std::vector<Utterance> read_tsv_manifest(const std::string& path) {
  std::vector<Utterance> utterances;
  bool first = true;
  for (const TextLine& line : split_lines(read_text_file(path))) {
    if (trim_ascii(line.text).empty()) continue;
    const std::string location = where(path, line.number);
    const size_t tab = line.text.find('\t');
    if (first) {
      first = false;
      std::string head = trim_ascii(line.text.substr(0, tab));
      std::transform(head.begin(), head.end(), head.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      static const char* kHeaderNames[] = {"path", "audio", "audio_path", "audio_filepath",
                                           "wav",  "file",  "filename"};
      if (std::find(std::begin(kHeaderNames), std::end(kHeaderNames), head) !=
          std::end(kHeaderNames)) {
        continue;
      }
    }
    if (tab == std::string::npos) {
      throw Error(location + ": expected 'path<TAB>transcript', found no tab");
    }
    const std::string audio = trim_ascii(line.text.substr(0, tab));
    Utterance u;
    u.id = strip_extension(audio);
    u.audio_path = resolve(path, audio);
    u.text = trim_ascii(line.text.substr(tab + 1));
    u.source = location;
    utterances.push_back(std::move(u));
  }
  check_unique_ids(utterances);
  return utterances;
}

}  // namespace quasr
