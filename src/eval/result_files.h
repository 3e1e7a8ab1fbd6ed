// Crash-safe result files: atomic final writes and the per-utterance JSONL log
// that --resume reads back.
#pragma once

#include <cstdio>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eval/run_result.h"

namespace quasr {

// Writes content to path through a temporary file in the same folder
// (path + ".tmp.<pid>"), fsync, then rename(2) over path, so readers see either
// the old file or the complete new one. Removes the temporary on failure and
// throws quasr::Error naming the path.
void write_file_atomic(const std::string& path, std::string_view content);

// Appends one JSON object per line to a JSONL file and flushes after each
// line, so an interrupted run loses at most the line being written.
// Opening an existing file whose last line is torn (no trailing '\n') first
// truncates that partial line, so the next record starts on a fresh line.
// Not copyable; closes the file on destruction.
class JsonlAppender {
 public:
  explicit JsonlAppender(const std::string& path);
  ~JsonlAppender();
  JsonlAppender(const JsonlAppender&) = delete;
  JsonlAppender& operator=(const JsonlAppender&) = delete;

  void append(const nlohmann::json& record);  // one line, flushed (fflush, not fsync)
  void append(const UtteranceResult& result) { append(to_json(result)); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

struct JsonlLoadResult {
  std::vector<UtteranceResult> records;  // complete lines, in file order
  bool torn_last_line = false;           // a final line without '\n' that did not parse was ignored
};

// Reads a per-utterance JSONL file written by JsonlAppender. A missing file
// gives no records. The last line is ignored when it lacks its '\n' and does
// not parse (a write cut short); any other unparsable line throws quasr::Error
// naming path:line. Later duplicates of a (model, id) pair replace earlier ones.
JsonlLoadResult load_utterance_jsonl(const std::string& path);

// The (model, id) pairs present in records: what --resume skips.
std::set<std::pair<std::string, std::string>> done_keys(
    const std::vector<UtteranceResult>& records);
// The ids done for one model.
std::set<std::string> done_ids(const std::vector<UtteranceResult>& records,
                               const std::string& model);

}  // namespace quasr
