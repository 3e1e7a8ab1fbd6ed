// Errors raised at API, file and config boundaries. The library never exits
// the process: the CLI catches these and maps them to one line and an exit code.
#pragma once

#include <stdexcept>
#include <string>

namespace quasr {

// A problem with something the user gave us (a file, a flag, a config value).
// The message names the file or tensor and the expected vs actual value.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace quasr
