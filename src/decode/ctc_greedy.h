// CTC greedy (best-path) decoding.
//
// Input: log_probs is a row-major [frames, vocab] float32 matrix (log-softmax
// output, or raw logits: argmax is the same). The caller keeps ownership; the
// functions only read it. Thread-safe (no shared state).
//
// Per frame the arg-max class is taken, with the LOWEST index winning ties and
// NaN counting as larger than any number (both as torch.argmax does). Runs of
// the same class are collapsed, then blanks are dropped, so "a a - a" gives
// [a, a] and "a a a" gives [a].
#pragma once

#include <cstdint>
#include <vector>

namespace quasr {

struct CtcGreedyResult {
  std::vector<int> tokens;      // collapsed ids, blanks removed
  std::vector<int64_t> frames;  // frames[i]: first frame of the run that emitted tokens[i]
};

// Throws quasr::Error on frames < 0, vocab < 1, blank_id outside [0, vocab),
// or a null log_probs with frames > 0.
std::vector<int> ctc_greedy_decode(const float* log_probs, int64_t frames, int64_t vocab,
                                   int blank_id);

// Same decoding, also returning the first frame index of each emitted token
// (multiply by the model's frame stride, e.g. 320 samples, for timestamps).
CtcGreedyResult ctc_greedy_decode_with_frames(const float* log_probs, int64_t frames, int64_t vocab,
                                              int blank_id);

// Per-frame arg-max only (no collapsing), length `frames`; the building block
// above, exposed for tests and for callers that post-process paths themselves.
std::vector<int> ctc_best_path(const float* log_probs, int64_t frames, int64_t vocab);

}  // namespace quasr
