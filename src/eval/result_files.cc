#include "eval/result_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"

namespace quasr {
namespace {

std::string errno_text() {
  return std::strerror(errno);
}

void write_all(int fd, std::string_view content, const std::string& path) {
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(path + ": write failed: " + errno_text());
    }
    done += static_cast<size_t>(n);
  }
}

// Drops a trailing partial line so appends start on a line boundary.
void truncate_torn_tail(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty() || text.back() == '\n') return;
  const size_t keep = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  // A complete record that only lacks its newline is kept, as the loader keeps it.
  if (!nlohmann::json::parse(text.substr(keep), nullptr, false).is_discarded()) {
    std::ofstream(path, std::ios::binary | std::ios::app) << '\n';
    return;
  }
  std::filesystem::resize_file(path, keep, ec);
  if (ec) throw Error(path + ": cannot truncate torn last line: " + ec.message());
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view content) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(temp + ": cannot create temporary file: " + errno_text());
  try {
    write_all(fd, content, temp);
    if (::fsync(fd) != 0) throw Error(temp + ": fsync failed: " + errno_text());
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(temp.c_str());
    throw Error(temp + ": close failed: " + errno_text());
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string reason = errno_text();
    ::unlink(temp.c_str());
    throw Error(path + ": cannot rename temporary file into place: " + reason);
  }
}

JsonlAppender::JsonlAppender(const std::string& path) : path_(path) {
  truncate_torn_tail(path);
  file_ = std::fopen(path.c_str(), "ab");
  if (file_ == nullptr) throw Error(path + ": cannot open for appending: " + errno_text());
}

JsonlAppender::~JsonlAppender() {
  if (file_ != nullptr) std::fclose(file_);
}

void JsonlAppender::append(const nlohmann::json& record) {
  const std::string line =
      record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0) {
    throw Error(path_ + ": append failed: " + errno_text());
  }
}

JsonlLoadResult load_utterance_jsonl(const std::string& path) {
  JsonlLoadResult result;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return result;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open for reading");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<std::pair<std::string, std::string>, size_t> slot;
  size_t start = 0;
  for (int64_t line_no = 1; start < text.size(); ++line_no) {
    const size_t end = text.find('\n', start);
    const bool complete = end != std::string::npos;
    const std::string line = text.substr(start, complete ? end - start : std::string::npos);
    start = complete ? end + 1 : text.size();
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    nlohmann::json json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) {
      if (!complete) {
        result.torn_last_line = true;
        break;
      }
      throw Error(where + ": not a JSON object (corrupt results file)");
    }
    UtteranceResult record = utterance_from_json(json, where);
    auto [it, added] = slot.emplace(std::make_pair(record.model, record.id), result.records.size());
    if (added) {
      result.records.push_back(std::move(record));
    } else {
      result.records[it->second] = std::move(record);
    }
  }
  return result;
}

std::set<std::pair<std::string, std::string>> done_keys(
    const std::vector<UtteranceResult>& records) {
  std::set<std::pair<std::string, std::string>> keys;
  for (const UtteranceResult& r : records) keys.emplace(r.model, r.id);
  return keys;
}

std::set<std::string> done_ids(const std::vector<UtteranceResult>& records,
                               const std::string& model) {
  std::set<std::string> ids;
  for (const UtteranceResult& r : records) {
    if (r.model == model) ids.insert(r.id);
  }
  return ids;
}

}  // namespace quasr
