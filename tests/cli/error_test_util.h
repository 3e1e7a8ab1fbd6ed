// Helpers for the quasr CLI error-path tests: damage copies of fixture
// models, check error output. Running the binary, temp folders and files:
// cli_test_util.h.
#pragma once

#include <string>
#include <vector>

#include "cli_test_util.h"

namespace quasr::clitest {

// Copies the fixture model folder models/<variant> to dst (symlinks kept as
// symlinks, so the HF-cache layout stays intact).
void copy_model(const std::string& variant, const std::string& dst);

// Replaces the first occurrence of `from` in the file by `to` (same length, so
// byte offsets stay valid); fails the test when `from` does not occur once.
void patch_bytes(const std::string& path, const std::string& from, const std::string& to);

// Entries of a directory (names only, sorted).
std::vector<std::string> list_dir(const std::string& dir);

// Non-fatal checks of an error run: the exit code, nothing on stdout, exactly
// one stderr line, and that line mentions every string in `mentions`.
void expect_error(const CommandResult& outcome, int exit_code,
                  const std::vector<std::string>& mentions);

}  // namespace quasr::clitest
