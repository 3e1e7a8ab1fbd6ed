#include "data/dataset.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "data/readers.h"
#include "data/text_file.h"

namespace quasr {
namespace {

namespace fs = std::filesystem;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Recognises audio containers by their first bytes.
bool has_audio_magic(const unsigned char* b, size_t n) {
  const auto starts = [&](const char* magic, size_t offset = 0) {
    const size_t len = std::strlen(magic);
    return n >= offset + len && std::memcmp(b + offset, magic, len) == 0;
  };
  if (starts("fLaC") || starts("OggS") || starts("ID3") || starts(".snd") || starts("caff")) {
    return true;
  }
  if ((starts("RIFF") || starts("RIFX") || starts("RF64")) && starts("WAVE", 8)) return true;
  if (starts("riff")) return true;  // Sony Wave64
  if (starts("FORM") && (starts("AIFF", 8) || starts("AIFC", 8))) return true;
  return n >= 2 && b[0] == 0xFF && (b[1] & 0xE0) == 0xE0;  // MPEG audio frame sync
}

}  // namespace

DatasetFormat parse_dataset_format(const std::string& name) {
  if (name == "auto") return DatasetFormat::kAuto;
  if (name == "librispeech") return DatasetFormat::kLibriSpeech;
  if (name == "csv") return DatasetFormat::kSpeechBrainCsv;
  if (name == "jsonl") return DatasetFormat::kJsonl;
  if (name == "tsv") return DatasetFormat::kTsv;
  throw Error("--format: unknown dataset format '" + name +
              "' (expected auto, librispeech, csv, jsonl or tsv)");
}

std::string dataset_format_name(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::kLibriSpeech:
      return "librispeech";
    case DatasetFormat::kSpeechBrainCsv:
      return "csv";
    case DatasetFormat::kJsonl:
      return "jsonl";
    case DatasetFormat::kTsv:
      return "tsv";
    default:
      return "auto";
  }
}

DatasetFormat detect_dataset_format(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": dataset path does not exist");
  if (fs::is_directory(path, ec)) return DatasetFormat::kLibriSpeech;
  const std::string ext = lower(fs::path(path).extension().string());
  if (ext == ".csv") return DatasetFormat::kSpeechBrainCsv;
  if (ext == ".jsonl" || ext == ".json") return DatasetFormat::kJsonl;
  if (ext == ".tsv") return DatasetFormat::kTsv;
  throw Error(path + ": cannot tell the dataset format from extension '" + ext +
              "' (expected a LibriSpeech folder, .csv, .jsonl, .json or .tsv; or pass --format)");
}

std::vector<Utterance> read_utterances(const std::string& path, DatasetFormat format,
                                       const std::string& data_root) {
  if (format == DatasetFormat::kAuto) format = detect_dataset_format(path);
  switch (format) {
    case DatasetFormat::kLibriSpeech:
      return read_librispeech_tree(path);
    case DatasetFormat::kSpeechBrainCsv:
      return read_speechbrain_csv(path, data_root);
    case DatasetFormat::kJsonl:
      return read_jsonl_manifest(path);
    case DatasetFormat::kTsv:
      return read_tsv_manifest(path);
    default:
      throw Error(path + ": no dataset format");
  }
}

uint64_t uniform_below(std::mt19937_64& rng, uint64_t bound) {
  // 2^64 mod bound, computed in 64-bit arithmetic as (2^64 - bound) mod bound.
  const uint64_t threshold = (0 - bound) % bound;
  uint64_t r = rng();
  while (r < threshold) r = rng();
  return r % bound;
}

void shuffle_utterances(std::vector<Utterance>& items, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t i = items.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(uniform_below(rng, i));
    std::swap(items[i - 1], items[j]);
  }
}

ShardSpec parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  const auto parse = [&](const std::string& part) -> long long {
    if (part.empty() || part.size() > 9 ||
        !std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return -1;
    }
    return std::stoll(part);
  };
  const long long index = slash == std::string::npos ? -1 : parse(text.substr(0, slash));
  const long long count = slash == std::string::npos ? -1 : parse(text.substr(slash + 1));
  if (index < 0 || count < 1 || index >= count) {
    throw Error("--shard: expected i/N with 0 <= i < N (0-based), got '" + text + "'");
  }
  return {static_cast<int>(index), static_cast<int>(count)};
}

std::vector<Utterance> select_shard(const std::vector<Utterance>& items, ShardSpec shard) {
  std::vector<Utterance> selected;
  for (size_t k = static_cast<size_t>(shard.index); k < items.size();
       k += static_cast<size_t>(shard.count)) {
    selected.push_back(items[k]);
  }
  return selected;
}

std::string validate_utterance(const Utterance& u, bool check_header) {
  if (u.text.empty()) return "empty transcript";
  if (!is_valid_utf8(u.text)) return "transcript is not valid UTF-8";
  std::error_code ec;
  const fs::file_status status = fs::status(u.audio_path, ec);
  if (!fs::exists(status)) return "audio file not found: " + u.audio_path;
  if (!fs::is_regular_file(status)) return "audio path is not a regular file: " + u.audio_path;
  const uintmax_t size = fs::file_size(u.audio_path, ec);
  if (ec) return "cannot stat audio file: " + u.audio_path;
  if (size == 0) return "audio file is empty (0 bytes): " + u.audio_path;
  std::ifstream in(u.audio_path, std::ios::binary);
  if (!in) return "audio file is not readable: " + u.audio_path;
  if (check_header) {
    unsigned char head[12] = {};
    in.read(reinterpret_cast<char*>(head), sizeof(head));
    if (!has_audio_magic(head, static_cast<size_t>(in.gcount()))) {
      return "not an audio file (no FLAC/WAV/Ogg/MP3/AIFF/AU/CAF header): " + u.audio_path;
    }
  }
  return "";
}

double Dataset::known_duration_s() const {
  double total_s = 0.0;
  for (const Utterance& u : utterances) {
    if (u.duration_s >= 0) total_s += u.duration_s;
  }
  return total_s;
}

Dataset load_dataset(const std::string& path, const DatasetOptions& options) {
  Dataset dataset;
  dataset.path = path;
  dataset.format =
      options.format == DatasetFormat::kAuto ? detect_dataset_format(path) : options.format;
  std::vector<Utterance> items = read_utterances(path, dataset.format, options.data_root);
  dataset.total = static_cast<int64_t>(items.size());
  if (options.shuffle) shuffle_utterances(items, options.seed);
  if (options.n >= 0 && static_cast<size_t>(options.n) < items.size()) items.resize(options.n);
  for (size_t k = 0; k < items.size(); ++k) items[k].index = static_cast<int64_t>(k);
  items = select_shard(items, options.shard);

  std::string first_error;
  size_t bad = 0;
  for (Utterance& u : items) {
    std::string reason = u.text.empty()           ? "empty transcript"
                         : !is_valid_utf8(u.text) ? "transcript is not valid UTF-8"
                                                  : "";
    if (reason.empty() && options.check_audio) reason = validate_utterance(u, options.check_header);
    if (reason.empty()) {
      dataset.utterances.push_back(std::move(u));
      continue;
    }
    if (bad++ == 0) first_error = u.source + ": " + u.id + ": " + reason;
    dataset.skipped.push_back({u.id, u.source, reason});
  }
  if (bad > 0 && !options.skip_bad) {
    throw Error(first_error + (bad > 1 ? " (and " + std::to_string(bad - 1) + " more bad)" : "") +
                "; fix the dataset or pass --skip-bad");
  }
  return dataset;
}

}  // namespace quasr
