#include "cli_test_util.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

extern char** environ;

namespace quasr::clitest {

namespace fs = std::filesystem;

std::string fixture(const std::string& relative) {
  return std::string(QUASR_FIXTURE_DIR) + "/" + relative;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("test helper: cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("test helper: cannot write " + path);
}

namespace {

// NULL-terminated pointers into `text`, which must outlive the result.
std::vector<char*> c_strings(std::vector<std::string>& text) {
  std::vector<char*> pointers;
  for (std::string& s : text) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Starts QUASR_BIN with stdin from /dev/null and stdout/stderr into files;
// returns its wait status.
int spawn_and_wait(std::vector<std::string> argv_text, std::vector<std::string> env_text,
                   const std::string& out_path, const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> argv = c_strings(argv_text), envp = c_strings(env_text);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, QUASR_BIN, &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(std::string("cannot start ") + QUASR_BIN);
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error("waitpid failed");
  }
  return wait_status;
}

}  // namespace

CommandResult run_quasr(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env) {
  TempDir capture;
  const std::string out_path = capture / "stdout", err_path = capture / "stderr";
  std::vector<std::string> argv_text = {QUASR_BIN};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e) env_text.emplace_back(*e);
  for (const auto& [key, value] : env) env_text.push_back(key + "=" + value);

  const int wait_status =
      spawn_and_wait(std::move(argv_text), std::move(env_text), out_path, err_path);
  CommandResult result;
  result.status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  return result;
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "quasr-cli-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

namespace {

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u16(std::string& s, uint16_t v) {
  for (int i = 0; i < 2; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

// The same 44 bytes libsndfile writes for SF_FORMAT_WAV | SF_FORMAT_PCM_16.
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
  write_file(path, file + body);
}

}  // namespace quasr::clitest
