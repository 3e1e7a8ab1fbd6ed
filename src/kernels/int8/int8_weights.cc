#include "kernels/int8/int8_weights.h"

#include <immintrin.h>

// GCC 12's AVX-512 reductions start from an undefined vector.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cmath>
#include <string>
#include <utility>

#include "core/cpu_features.h"
#include "core/error.h"

namespace quasr::kernels {

Int8Weights::Int8Weights(Int8Weights&& other) noexcept {
  *this = std::move(other);
}

Int8Weights& Int8Weights::operator=(Int8Weights&& other) noexcept {
  if (this == &other) return *this;
  bool owned = !other.owned_.empty();
  n_ = other.n_;
  k_ = other.k_;
  owned_ = std::move(other.owned_);
  // A moved vector keeps its buffer, so the pointer stays valid when owned.
  data_ = owned ? owned_.data() : other.data_;
  scales_ = std::move(other.scales_);
  per_channel_ = other.per_channel_;
  row_sums_ = std::move(other.row_sums_);
  other.data_ = nullptr;
  other.n_ = other.k_ = 0;
  return *this;
}

namespace {

int32_t row_sum_scalar(const int8_t* row, int64_t k) {
  int32_t sum = 0;
  for (int64_t i = 0; i < k; ++i) sum += row[i];
  return sum;
}

// Σ x over int8 as Σ (x + 128) - 128 k, the unsigned sums 64 bytes at a time
// with VPSADBW. Loading a quantized large model sums 300 M weights; the scalar
// loop (GCC keeps it scalar) took ~0.1 s of it.
__attribute__((target("avx512f,avx512bw"))) int32_t row_sum_avx512(const int8_t* row, int64_t k) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i total = _mm512_setzero_si512();
  int64_t i = 0;
  for (; i + 64 <= k; i += 64) {
    const __m512i biased = _mm512_xor_si512(_mm512_loadu_si512(row + i), flip);
    total = _mm512_add_epi64(total, _mm512_sad_epu8(biased, _mm512_setzero_si512()));
  }
  const int64_t unsigned_sum = _mm512_reduce_add_epi64(total) - 128 * i;
  return static_cast<int32_t>(unsigned_sum) + row_sum_scalar(row + i, k - i);
}

int32_t row_sum(const int8_t* row, int64_t k) {
  static const bool avx512 = isa_level() >= IsaLevel::kAvx512;
  return avx512 ? row_sum_avx512(row, k) : row_sum_scalar(row, k);
}

}  // namespace

void Int8Weights::finish(const float* scales, int64_t scale_count) {
  if (n_ <= 0 || k_ <= 0) {
    throw Error("int8 weights: bad shape [" + std::to_string(n_) + ", " + std::to_string(k_) + "]");
  }
  if (scale_count != n_ && scale_count != 1) {
    throw Error("int8 weights [" + std::to_string(n_) + ", " + std::to_string(k_) + "]: expected " +
                std::to_string(n_) + " scales (per channel) or 1 (per tensor), got " +
                std::to_string(scale_count));
  }
  // With one output channel both readings agree; keep what the caller said.
  if (n_ > 1) per_channel_ = scale_count == n_;
  scales_.assign(scales, scales + scale_count);
  for (int64_t j = 0; j < scale_count; ++j) {
    if (!(scales_[j] > 0.0f) || !std::isfinite(scales_[j])) {
      throw Error("int8 weights: scale " + std::to_string(j) + " is " + std::to_string(scales_[j]) +
                  ", expected a finite positive value");
    }
  }
  row_sums_.assign(static_cast<size_t>(n_), 0);
#pragma omp parallel for schedule(static) if (n_ * k_ >= (1 << 20))
  for (int64_t j = 0; j < n_; ++j) row_sums_[j] = row_sum(data_ + j * k_, k_);
}

Int8Weights Int8Weights::quantize(const float* weight_nk, int64_t n, int64_t k, bool per_channel) {
  quant::QuantizedMatrix matrix = per_channel ? quant::quantize_weights_per_channel(weight_nk, n, k)
                                              : quant::quantize_weights_per_tensor(weight_nk, n, k);
  return Int8Weights(std::move(matrix));
}

Int8Weights::Int8Weights(quant::QuantizedMatrix matrix) {
  n_ = matrix.rows;
  k_ = matrix.cols;
  owned_ = std::move(matrix.data);
  data_ = owned_.data();
  per_channel_ = matrix.per_channel;
  finish(matrix.scales.data(), static_cast<int64_t>(matrix.scales.size()));
}

Int8Weights Int8Weights::borrow(const int8_t* data_nk, int64_t n, int64_t k, const float* scales,
                                int64_t scale_count) {
  Int8Weights w;
  w.n_ = n;
  w.k_ = k;
  w.data_ = data_nk;
  w.finish(scales, scale_count);
  return w;
}

Int8Weights Int8Weights::copy(const int8_t* data_nk, int64_t n, int64_t k, const float* scales,
                              int64_t scale_count) {
  Int8Weights w;
  w.n_ = n;
  w.k_ = k;
  if (n > 0 && k > 0) w.owned_.assign(data_nk, data_nk + n * k);
  w.data_ = w.owned_.data();
  w.finish(scales, scale_count);
  return w;
}

}  // namespace quasr::kernels
