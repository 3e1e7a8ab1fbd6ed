#include "error_test_util.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

extern char** environ;

namespace quasr::clierr {

namespace fs = std::filesystem;

std::string fixture(const std::string& relative) {
  return std::string(QUASR_FIXTURE_DIR) + "/" + relative;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("test helper: cannot read " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("test helper: cannot write " + path);
}

Outcome run_quasr(const std::vector<std::string>& args) {
  ScratchDir capture;
  const std::string out_file = capture.file("stdout"), err_file = capture.file("stderr");
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, out_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&files, STDERR_FILENO, err_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> storage{QUASR_BIN};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawn_rc = posix_spawn(&pid, QUASR_BIN, &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  if (spawn_rc != 0) throw std::runtime_error(std::string("cannot start ") + QUASR_BIN);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error("waitpid failed");
  }
  Outcome outcome;
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  outcome.out = read_bytes(out_file);
  outcome.err = read_bytes(err_file);
  return outcome;
}

ScratchDir::ScratchDir() {
  std::string pattern = (fs::temp_directory_path() / "quasr-cli-err-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

void copy_model(const std::string& variant, const std::string& dst) {
  fs::copy(fixture("models/" + variant), dst,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
}

void patch_bytes(const std::string& path, const std::string& from, const std::string& to) {
  ASSERT_EQ(from.size(), to.size()) << "patch must keep the file size";
  std::string bytes = read_bytes(path);
  const size_t at = bytes.find(from);
  ASSERT_NE(at, std::string::npos) << from << " not in " << path;
  ASSERT_EQ(bytes.find(from, at + 1), std::string::npos) << from << " occurs twice in " << path;
  bytes.replace(at, from.size(), to);
  write_bytes(path, bytes);
}

namespace {

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u16(std::string& s, uint16_t v) {
  for (int i = 0; i < 2; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

void write_empty_wav(const std::string& path) {
  std::string fmt;
  put_u16(fmt, 1);      // PCM
  put_u16(fmt, 1);      // mono
  put_u32(fmt, 16000);  // sample rate
  put_u32(fmt, 32000);  // byte rate
  put_u16(fmt, 2);      // block align
  put_u16(fmt, 16);     // bits per sample
  std::string body = "WAVEfmt ";
  put_u32(body, static_cast<uint32_t>(fmt.size()));
  body += fmt + "data";
  put_u32(body, 0);
  std::string file = "RIFF";
  put_u32(file, static_cast<uint32_t>(body.size()));
  write_bytes(path, file + body);
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

void expect_error(const Outcome& outcome, int exit_code, const std::vector<std::string>& mentions) {
  EXPECT_EQ(outcome.exit_code, exit_code) << "stderr: " << outcome.err;
  EXPECT_EQ(outcome.out, "") << "an error run must not print results";
  ASSERT_FALSE(outcome.err.empty());
  EXPECT_EQ(outcome.err.back(), '\n');
  const std::string line = outcome.err.substr(0, outcome.err.size() - 1);
  EXPECT_EQ(line.find('\n'), std::string::npos) << "expected ONE stderr line, got:\n"
                                                << outcome.err;
  for (const std::string& mention : mentions)
    EXPECT_NE(line.find(mention), std::string::npos)
        << "stderr line does not mention '" << mention << "': " << line;
}

}  // namespace quasr::clierr
