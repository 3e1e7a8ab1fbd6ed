// Helpers shared by the quasr command-line tests: run the built binary
// without a shell and capture what it printed, throw-away folders, files and
// fixture paths. Suite-specific helpers live in bench_test_util.h and
// error_test_util.h.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace quasr::clitest {

struct CommandResult {
  int status = -1;  // exit code, or 128 + signal number when killed by one
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs QUASR_BIN with args (no shell, stdin /dev/null), extra environment
// variables added to this process's environment.
CommandResult run_quasr(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env = {});

// A fresh folder under the system temp dir, removed with its contents on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string fixture(const std::string& relative);  // QUASR_FIXTURE_DIR + "/" + relative
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

// A valid 16 kHz mono 16-bit PCM WAV file with zero samples.
void write_empty_wav(const std::string& path);

}  // namespace quasr::clitest
