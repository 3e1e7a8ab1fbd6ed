// Helpers shared by the io tests: a scratch directory and fixture paths.
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace quasr::test {

inline std::string fixture(const std::string& name) {
  return std::string(QUASR_FIXTURE_DIR) + "/io/" + name;
}

inline nlohmann::json expected_json() {
  std::ifstream in(fixture("expected.json"));
  return nlohmann::json::parse(in);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A fresh directory under $TMPDIR (or /tmp), removed with its files afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/quasr-io-test-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (!mkdtemp(buffer.data())) throw std::runtime_error("mkdtemp failed");
    path_ = buffer.data();
  }
  ~ScratchDir() {
    for (const std::string& name : entries()) unlink((path_ + "/" + name).c_str());
    rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    if (DIR* dir = opendir(path_.c_str())) {
      while (dirent* entry = readdir(dir)) {
        std::string name = entry->d_name;
        if (name != "." && name != "..") names.push_back(name);
      }
      closedir(dir);
    }
    return names;
  }

 private:
  std::string path_;
};

// Runs `body`, expecting a quasr::Error whose message contains every needle.
template <typename Body>
std::string expect_error(Body&& body, const std::vector<std::string>& needles) {
  try {
    body();
  } catch (const quasr::Error& e) {
    std::string message = e.what();
    for (const std::string& needle : needles) {
      EXPECT_NE(message.find(needle), std::string::npos)
          << "message: " << message << "\nmissing: " << needle;
    }
    EXPECT_EQ(message.find('\n'), std::string::npos) << "multi-line message: " << message;
    return message;
  }
  ADD_FAILURE() << "no quasr::Error thrown";
  return "";
}

}  // namespace quasr::test
