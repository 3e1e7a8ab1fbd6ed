// Loading a dataset for quasr bench: format detection, stable ordering,
// --shuffle/--n/--shard selection and validation of what was selected.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "data/utterance.h"

namespace quasr {

enum class DatasetFormat { kAuto, kLibriSpeech, kSpeechBrainCsv, kJsonl, kTsv };

// "auto", "librispeech", "csv", "jsonl", "tsv" (throws quasr::Error otherwise).
DatasetFormat parse_dataset_format(const std::string& name);
std::string dataset_format_name(DatasetFormat format);
// Directory -> LibriSpeech tree; by extension (case-insensitive): .csv -> CSV,
// .jsonl/.json -> JSONL manifest, .tsv -> TSV. Throws quasr::Error naming the
// path when it does not exist or the extension is unknown.
DatasetFormat detect_dataset_format(const std::string& path);

// Reads with the given format (kAuto: detect_dataset_format), in the layout's
// stable order; see data/readers.h.
std::vector<Utterance> read_utterances(const std::string& path, DatasetFormat format,
                                       const std::string& data_root = "");

// In-place Fisher-Yates shuffle, identical on every platform:
//   rng = std::mt19937_64(seed)   (its output sequence is fixed by the standard)
//   for i = n-1 down to 1:
//     draw r = rng() until r >= (2^64 mod (i+1))   (rejection removes modulo bias)
//     j = r mod (i+1); swap(items[i], items[j])
// (std::shuffle / uniform_int_distribution are implementation-defined.)
void shuffle_utterances(std::vector<Utterance>& items, uint64_t seed);
// The uniform draw in [0, bound) used above; bound >= 1.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t bound);

struct ShardSpec {
  int index = 0;  // 0-based
  int count = 1;
};
// "i/N" with 0 <= i < N (0-based, as Slurm array and Kubernetes indexed-job
// indices usually are). Throws quasr::Error on anything else.
ShardSpec parse_shard(const std::string& text);
// Every count-th item starting at index: items k with k % count == index.
std::vector<Utterance> select_shard(const std::vector<Utterance>& items, ShardSpec shard);

// Why an utterance cannot be evaluated, or "" if it can: empty or non-UTF-8
// transcript, audio path missing / not a regular file / zero bytes /
// unreadable, and with check_header a file whose first bytes are not a known
// audio container (FLAC, WAV/RF64/W64, Ogg, MP3, AIFF, AU, CAF).
std::string validate_utterance(const Utterance& utterance, bool check_header = true);

struct DatasetOptions {
  DatasetFormat format = DatasetFormat::kAuto;
  std::string data_root;  // replaces $data_root in SpeechBrain CSVs
  bool shuffle = false;
  uint64_t seed = 0;
  int64_t n = -1;  // first N after ordering/shuffle; -1 = all
  ShardSpec shard;
  bool skip_bad = false;     // collect bad utterances in Dataset::skipped instead of throwing
  bool check_audio = true;   // validate audio files (existence, size, header)
  bool check_header = true;  // sniff the container magic bytes
};

struct Dataset {
  std::string path;
  DatasetFormat format = DatasetFormat::kAuto;  // the format actually read
  int64_t total = 0;                            // utterances in the source before selection
  std::vector<Utterance> utterances;            // selected and valid, with index set
  std::vector<SkippedUtterance> skipped;
  double known_duration_s() const;  // sum of durations >= 0
};

// read -> shuffle (if set) -> first n -> set index -> shard -> validate.
// Validation runs on the selection only, so shards partition exactly what an
// unsharded run evaluates. Without skip_bad the first bad utterance throws
// quasr::Error "file:line: id: reason" (plus how many more are bad).
Dataset load_dataset(const std::string& path, const DatasetOptions& options);

}  // namespace quasr
