#include "error_test_util.h"

#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

namespace quasr::clitest {

namespace fs = std::filesystem;

void copy_model(const std::string& variant, const std::string& dst) {
  fs::copy(fixture("models/" + variant), dst,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
}

void patch_bytes(const std::string& path, const std::string& from, const std::string& to) {
  ASSERT_EQ(from.size(), to.size()) << "patch must keep the file size";
  std::string bytes = read_file(path);
  const size_t at = bytes.find(from);
  ASSERT_NE(at, std::string::npos) << from << " not in " << path;
  ASSERT_EQ(bytes.find(from, at + 1), std::string::npos) << from << " occurs twice in " << path;
  bytes.replace(at, from.size(), to);
  write_file(path, bytes);
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

void expect_error(const CommandResult& outcome, int exit_code,
                  const std::vector<std::string>& mentions) {
  EXPECT_EQ(outcome.status, exit_code) << "stderr: " << outcome.err;
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

}  // namespace quasr::clitest
