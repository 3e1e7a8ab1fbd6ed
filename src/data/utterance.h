// One evaluation item of a dataset.
#pragma once

#include <cstdint>
#include <string>

namespace quasr {

struct Utterance {
  std::string id;  // unique within a dataset
  std::string
      audio_path;    // as it will be opened (data_root substituted, manifest-relative resolved)
  std::string text;  // reference transcript, trimmed of surrounding whitespace
  double duration_s = -1;  // from the manifest; -1 when the layout does not record it
  std::string source;      // "file:line" of the row, for error messages
  int64_t index = -1;  // position in the ordered dataset (after shuffle and --n, before --shard)
  bool operator==(const Utterance&) const = default;
};

// An utterance left out by validation with skip_bad set.
struct SkippedUtterance {
  std::string id;
  std::string source;  // file:line
  std::string reason;  // one line, e.g. "audio file not found: /x/1.flac"
  bool operator==(const SkippedUtterance&) const = default;
};

}  // namespace quasr
