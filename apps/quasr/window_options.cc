#include "window_options.h"

#include <cstdio>
#include <string>

#include "core/error.h"

namespace quasr::cli {

namespace {
std::string format_seconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", seconds);
  return text;
}
}  // namespace

void add_window_options(CLI::App* command, WindowOptions* options) {
  command
      ->add_option("--max-window-seconds", options->max_seconds,
                   "Recordings longer than this run in overlapping windows of this length, so "
                   "memory stays bounded (default 60; 0 = never split)")
      ->check(CLI::NonNegativeNumber);
  command
      ->add_option("--window-context-seconds", options->context_seconds,
                   "Audio each frame kept from a window has on both sides within it, so words "
                   "at a window's edge are read from the next window (default 5; windows then "
                   "advance by the window length minus twice this)")
      ->check(CLI::NonNegativeNumber);
}

void check_window_options(const WindowOptions& options) {
  if (options.max_seconds > 0 && 2 * options.context_seconds >= options.max_seconds)
    throw Error("--window-context-seconds " + format_seconds(options.context_seconds) +
                ": a window of --max-window-seconds " + format_seconds(options.max_seconds) +
                " would keep no frame (the context must be under half the window)");
}

}  // namespace quasr::cli
