// Symmetric int8 weights of a Linear (or a flattened Conv1d) as the int8
// kernels take them: [n, k] row-major int8, one output channel per row
// (PyTorch's nn.Linear layout; a conv weight [c_out, c_in/groups, kernel] is
// the same bytes read as [c_out, c_in/groups * kernel]), all zero points 0,
// and a float scale per row or one for the whole matrix:
//   w[j, i] ≈ scale(j) * data[j * k + i].
//
// Two ways in:
//  * Int8Weights::quantize(fp32): PyTorch's qint8 symmetric observers
//    (scale = amax / 127.5, values in -128..127);
//  * Int8Weights::borrow / copy(int8 data, scales): a quantized model file, so
//    no fp32 weight is ever materialised. borrow() keeps a pointer (into an
//    mmap'd file, say): the data must outlive this object; the kernels built
//    from it pack their own copy at construction and do not keep the pointer.
// The way out, for saving: data(), scales(), per_channel().
#pragma once

#include <cstdint>
#include <vector>

#include "quant/quant_math.h"

namespace quasr::kernels {

class Int8Weights {
 public:
  static Int8Weights quantize(const float* weight_nk, int64_t n, int64_t k, bool per_channel);
  // scales holds n values (per channel) or 1 (per tensor). Throws quasr::Error
  // on any other count or a non-positive / non-finite scale.
  static Int8Weights borrow(const int8_t* data_nk, int64_t n, int64_t k, const float* scales,
                            int64_t scale_count);
  static Int8Weights copy(const int8_t* data_nk, int64_t n, int64_t k, const float* scales,
                          int64_t scale_count);
  explicit Int8Weights(quant::QuantizedMatrix matrix);

  int64_t rows() const { return n_; }  // n, output channels
  int64_t cols() const { return k_; }  // k, inputs per output channel
  const int8_t* data() const { return data_; }
  const std::vector<float>& scales() const { return scales_; }
  bool per_channel() const { return per_channel_; }
  float scale(int64_t row) const { return scales_[per_channel_ ? row : 0]; }
  // Σ_i data[j, i] for every row j: with u8 activations of zero point z,
  // Σ_i (x_i - z) w_ji = Σ_i x_i w_ji - z * row_sums[j].
  const std::vector<int32_t>& row_sums() const { return row_sums_; }
  bool owns_data() const { return !owned_.empty(); }

  Int8Weights(const Int8Weights&) = delete;
  Int8Weights& operator=(const Int8Weights&) = delete;
  Int8Weights(Int8Weights&& other) noexcept;
  Int8Weights& operator=(Int8Weights&& other) noexcept;

 private:
  Int8Weights() = default;
  void finish(const float* scales, int64_t scale_count);

  int64_t n_ = 0;
  int64_t k_ = 0;
  const int8_t* data_ = nullptr;
  std::vector<int8_t> owned_;
  std::vector<float> scales_;
  bool per_channel_ = true;
  std::vector<int32_t> row_sums_;
};

}  // namespace quasr::kernels
