// Helpers for the quasr CLI error-path tests: run the built binary without a
// shell, make throw-away model folders and audio files, check error output.
#pragma once

#include <string>
#include <vector>

namespace quasr::clierr {

struct Outcome {
  int exit_code = -1;  // 128 + signal when the process was killed by one
  std::string out;
  std::string err;
};

// Runs QUASR_BIN with args; stdin is /dev/null.
Outcome run_quasr(const std::vector<std::string>& args);

// A fresh directory under the system temp dir, removed with its contents on
// destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string fixture(const std::string& relative);  // QUASR_FIXTURE_DIR + "/" + relative
std::string read_bytes(const std::string& path);
void write_bytes(const std::string& path, const std::string& bytes);

// Copies the fixture model folder models/<variant> to dst (symlinks kept as
// symlinks, so the HF-cache layout stays intact).
void copy_model(const std::string& variant, const std::string& dst);

// Replaces the first occurrence of `from` in the file by `to` (same length, so
// byte offsets stay valid); fails the test when `from` does not occur once.
void patch_bytes(const std::string& path, const std::string& from, const std::string& to);

// A 16 kHz mono 16-bit PCM WAV file with zero samples.
void write_empty_wav(const std::string& path);

// Entries of a directory (names only, sorted).
std::vector<std::string> list_dir(const std::string& dir);

// Non-fatal checks of an error run: the exit code, nothing on stdout, exactly
// one stderr line, and that line mentions every string in `mentions`.
void expect_error(const Outcome& outcome, int exit_code, const std::vector<std::string>& mentions);

}  // namespace quasr::clierr
