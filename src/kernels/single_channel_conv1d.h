// The first convolution of a wav2vec2 extractor: one input channel (the
// waveform), a short kernel (10) with stride 5, hundreds of output channels.
// As a GEMM its depth is the kernel (10), which oneDNN's conv kernels run at
// ~5 GMAC/s here; a direct kernel that broadcasts each sample against a
// register tile of output channels runs it an order of magnitude faster.
//
//   y[t, c] = act(scale[c] * Σ_k x[t*stride + k] * w[c, k] + bias[c])
//
// scale lets the int8 path reuse it exactly: with x = q - zero_point and
// w = the int8 weights as floats, every product and partial sum is an
// integer below 2^24 (|x| <= 255, |w| <= 127, kernel <= 512), so the float
// sum is the integer sum and scale = x_scale * w_scale[c] dequantizes it.
//
// No padding, no groups. Thread safety: run() may be called concurrently.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/packed_matmul.h"
#include "kernels/row_sink.h"

namespace quasr::kernels {

class SingleChannelConv1d {
 public:
  // weight: [out_channels, kernel] (PyTorch's [c_out, 1, kernel]); scale and
  // bias (out_channels values each) may be null.
  SingleChannelConv1d(int64_t out_channels, int64_t kernel, int64_t stride, const float* weight,
                      const float* scale, const float* bias, Activation activation);

  // x: [t_in] samples; y: [output_length(t_in), out_channels]. row_done
  // (optional) gets each finished frame while it is in cache. With row_done,
  // y may be null: each frame then lives in a per-thread buffer only until
  // row_done returns (for a caller that keeps only what row_done makes).
  void run(const float* x, int64_t t_in, float* y, RowSink row_done = {}) const;
  int64_t output_length(int64_t t_in) const {
    return t_in < kernel_ ? 0 : (t_in - kernel_) / stride_ + 1;
  }

 private:
  void run_frames(const float* x, int64_t first, int64_t frames, float* y, RowSink row_done) const;

  int64_t out_channels_, kernel_, stride_;
  Activation activation_;
  std::vector<float> weight_kc_;  // [kernel, out_channels]: one row per tap
  std::vector<float> scale_;
  std::vector<float> bias_;
  bool vectorised_;
};

}  // namespace quasr::kernels
