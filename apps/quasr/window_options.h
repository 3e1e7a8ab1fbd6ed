// --max-window-seconds / --window-context-seconds, shared by transcribe and
// bench so both read long recordings the same way
// (AsrModel::log_probs_windowed).
#pragma once

#include <cstdint>

#include <CLI/CLI.hpp>

namespace quasr::cli {

struct WindowOptions {
  double max_seconds = 60.0;
  double context_seconds = 5.0;
  int64_t max_samples() const { return static_cast<int64_t>(max_seconds * 16000); }
  int64_t context_samples() const { return static_cast<int64_t>(context_seconds * 16000); }
};

void add_window_options(CLI::App* command, WindowOptions* options);
// Throws quasr::Error naming both flags when the context leaves a window no frame.
void check_window_options(const WindowOptions& options);

}  // namespace quasr::cli
