#include "decode/ctc_greedy.h"

#include <cmath>
#include <string>

#include "core/error.h"

namespace quasr {
namespace {

void check_args(const float* log_probs, int64_t frames, int64_t vocab) {
  if (frames < 0) {
    throw Error("ctc_greedy_decode: frames must be >= 0, got " + std::to_string(frames));
  }
  if (vocab < 1) {
    throw Error("ctc_greedy_decode: vocab must be >= 1, got " + std::to_string(vocab));
  }
  if (frames > 0 && log_probs == nullptr) {
    throw Error("ctc_greedy_decode: log_probs is null for " + std::to_string(frames) + " frames");
  }
}

// torch.argmax semantics: first maximum wins; a NaN beats every number, and
// the first NaN wins among NaNs.
int argmax_row(const float* row, int64_t vocab) {
  int64_t best = 0;
  float best_value = row[0];
  if (std::isnan(best_value)) return 0;
  for (int64_t v = 1; v < vocab; ++v) {
    const float x = row[v];
    if (std::isnan(x)) return static_cast<int>(v);
    if (x > best_value) {
      best_value = x;
      best = v;
    }
  }
  return static_cast<int>(best);
}

}  // namespace

std::vector<int> ctc_best_path(const float* log_probs, int64_t frames, int64_t vocab) {
  check_args(log_probs, frames, vocab);
  std::vector<int> path(static_cast<size_t>(frames));
  for (int64_t t = 0; t < frames; ++t) path[t] = argmax_row(log_probs + t * vocab, vocab);
  return path;
}

CtcGreedyResult ctc_greedy_decode_with_frames(const float* log_probs, int64_t frames, int64_t vocab,
                                              int blank_id) {
  check_args(log_probs, frames, vocab);
  if (blank_id < 0 || blank_id >= vocab) {
    throw Error("ctc_greedy_decode: blank_id " + std::to_string(blank_id) +
                " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  }
  CtcGreedyResult result;
  int previous = -1;
  for (int64_t t = 0; t < frames; ++t) {
    const int id = argmax_row(log_probs + t * vocab, vocab);
    if (id != previous && id != blank_id) {
      result.tokens.push_back(id);
      result.frames.push_back(t);
    }
    previous = id;
  }
  return result;
}

std::vector<int> ctc_greedy_decode(const float* log_probs, int64_t frames, int64_t vocab,
                                   int blank_id) {
  return ctc_greedy_decode_with_frames(log_probs, frames, vocab, blank_id).tokens;
}

}  // namespace quasr
