// Process resource figures for the bench report.
#pragma once

#include <cstdint>
#include <string>

namespace quasr {

// Peak resident set size of this process in bytes, from the VmHWM line of
// /proc/self/status (kB there). Returns -1 where that is unavailable (non-Linux).
int64_t read_peak_rss_bytes();
// Parses the text of a /proc/<pid>/status file; -1 when it has no VmHWM line.
int64_t parse_vm_hwm_bytes(const std::string& status_text);

}  // namespace quasr
