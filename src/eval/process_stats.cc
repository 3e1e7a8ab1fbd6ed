#include "eval/process_stats.h"

#include <fstream>
#include <sstream>

namespace quasr {

int64_t parse_vm_hwm_bytes(const std::string& status_text) {
  std::istringstream lines(status_text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("VmHWM:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    long long value = -1;
    std::string unit;
    fields >> value >> unit;
    if (value < 0) return -1;
    if (unit == "kB") return value * 1024;
    if (unit == "mB" || unit == "MB") return value * 1024 * 1024;
    return value;
  }
  return -1;
}

int64_t read_peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  if (!in) return -1;
  std::stringstream text;
  text << in.rdbuf();
  return parse_vm_hwm_bytes(text.str());
}

}  // namespace quasr
