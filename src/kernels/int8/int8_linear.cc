#include "kernels/int8/int8_linear.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/int8/amx_int8_matmul.h"
#include "kernels/int8/block_int8_matmul.h"
#include "kernels/int8/epilogue.h"
#include "kernels/int8/packed_int8_matmul.h"
#include "kernels/int8/reference.h"
#include "kernels/int8/row_quantize.h"

namespace quasr::kernels {

using dt = dnnl::memory::data_type;
using int8_detail::grow;

namespace {

// Below this many multiply-adds a parallel region costs more than it saves.
constexpr int64_t kParallelWork = 1 << 15;
// Rows per block of the dynamic kernel (see DynamicInt8Linear::run).
constexpr int64_t kRowBlock = 256;

// Rows per block on oneDNN: long inputs go in blocks, so the quantized block
// and the int32 block the epilogue rewrites are still in cache; fixed block
// sizes also keep the number of oneDNN primitives per layer small. quasr's
// block kernels take every row at once: they finish their output in 32 x 32
// blocks anyway, and each block of rows would stream all the weights again
// (on 21-28 s clips of large int8-all on AMX, blocks of 256 rows cost 7 % of
// the RTF).
int64_t rows_per_block(int64_t m, bool block_kernel) {
  return !block_kernel && m > 2 * kRowBlock ? kRowBlock : m;
}

// Runs block(start, rows, sink) over m rows in blocks of `size`, with sink
// numbering rows from the start of the whole input for row_done.
template <typename Block>
void for_each_block(int64_t m, int64_t size, RowSink row_done, const Block& block) {
  for (int64_t start = 0; start < m; start += size) {
    auto shifted = [&](int64_t i, float* row) { row_done(start + i, row); };
    block(start, std::min(size, m - start), row_done ? RowSink(shifted) : RowSink());
  }
}

std::unique_ptr<Int8Weights> reference_copy(const Int8Weights& w) {
  return std::make_unique<Int8Weights>(Int8Weights::copy(
      w.data(), w.rows(), w.cols(), w.scales().data(), static_cast<int64_t>(w.scales().size())));
}

}  // namespace

void check_static_input(quant::QuantParams input, quant::QuantRange range, const char* what) {
  if (!(input.scale > 0.0f) || !std::isfinite(input.scale)) {
    throw Error(std::string(what) + ": input scale is " + std::to_string(input.scale) +
                ", expected a finite positive value");
  }
  if (range.qmin < 0 || range.qmax > 255 || range.qmin >= range.qmax) {
    throw Error(std::string(what) + ": input range must lie in u8 0..255, got " +
                std::to_string(range.qmin) + ".." + std::to_string(range.qmax));
  }
  if (input.zero_point < range.qmin || input.zero_point > range.qmax) {
    throw Error(std::string(what) + ": input zero point " + std::to_string(input.zero_point) +
                " outside " + std::to_string(range.qmin) + ".." + std::to_string(range.qmax));
  }
}

// ---------------------------------------------------------------- dynamic

DynamicInt8Linear::DynamicInt8Linear(const Int8Weights& weights, const float* bias,
                                     Activation activation, DynamicInt8Options options)
    : n_(weights.rows()),
      k_(weights.cols()),
      activation_(activation),
      options_(options),
      isa_(isa_level()) {
  if (isa_ != IsaLevel::kRef && !int8_detail::full_range_activations()) {
    options_.reduce_range = true;
  }
  range_ = quant::u8_range(options_.reduce_range);
  w_scales_.resize(static_cast<size_t>(n_));
  for (int64_t j = 0; j < n_; ++j) w_scales_[j] = weights.scale(j);
  w_sums_ = weights.row_sums();
  if (bias) bias_.assign(bias, bias + n_);
  if (isa_ == IsaLevel::kRef) {
    reference_weights_ = reference_copy(weights);
    return;
  }
  blocks_ = int8_detail::make_block_int8_matmul(weights.data(), n_, k_, isa_);
  if (blocks_) return;
  matmul_ = std::make_unique<int8_detail::PackedInt8Matmul>(weights.data(), n_, k_, dt::s32,
                                                            dnnl::primitive_attr(), nullptr);
}

DynamicInt8Linear::~DynamicInt8Linear() = default;

std::string DynamicInt8Linear::implementation(int64_t m) const {
  if (blocks_) return blocks_->name();
  return matmul_ ? matmul_->implementation(m) : "ref";
}

quant::QuantParams DynamicInt8Linear::tensor_params(const float* x, int64_t m,
                                                    int64_t x_row_stride) const {
  int8_detail::Scratch& scratch = int8_detail::thread_scratch();
  float* mins = grow(scratch.mins, m);
  float* maxs = grow(scratch.maxs, m);
#pragma omp parallel for schedule(static) if (m * k_ >= kParallelWork)
  for (int64_t i = 0; i < m; ++i) {
    int8_detail::row_min_max(x + i * x_row_stride, k_, &mins[i], &maxs[i], isa_);
  }
  float lo = *std::min_element(mins, mins + m);
  float hi = *std::max_element(maxs, maxs + m);
  return quant::choose_dynamic_fbgemm(lo, hi, range_);
}

void DynamicInt8Linear::quantize_row(const float* x, uint8_t* q, quant::QuantParams* params) const {
  float lo, hi;
  int8_detail::row_min_max(x, k_, &lo, &hi, isa_);
  *params = quant::choose_dynamic_fbgemm(lo, hi, range_);
  int8_detail::quantize_own_range_row_u8(x, k_, quant::inverse_scale(params->scale),
                                         params->zero_point, range_, q, isa_);
}

void DynamicInt8Linear::run_block(const float* x, int64_t m, int64_t x_row_stride, float* y,
                                  int64_t y_row_stride, quant::QuantParams* params, uint8_t* q,
                                  RowSink row_done) const {
  const bool per_row = options_.granularity == ActivationGranularity::kPerRow;
  const float inv = quant::inverse_scale(params[0].scale);
#pragma omp parallel for schedule(static) if (m * k_ >= kParallelWork)
  for (int64_t i = 0; i < m; ++i) {
    const float* row = x + i * x_row_stride;
    if (per_row) {
      quantize_row(row, q + i * k_, &params[i]);
    } else {
      int8_detail::quantize_row_u8(row, k_, inv, params[0].zero_point, range_, q + i * k_, isa_);
    }
  }
  multiply_block(q, params, m, y, y_row_stride, row_done);
}

int8_detail::EpilogueRow DynamicInt8Linear::column_epilogue() const {
  int8_detail::EpilogueRow epilogue;
  epilogue.w_scales = w_scales_.data();
  epilogue.w_sums = w_sums_.data();
  epilogue.bias = bias_.empty() ? nullptr : bias_.data();
  epilogue.activation = activation_;
  return epilogue;
}

void DynamicInt8Linear::multiply_block(const uint8_t* q, const quant::QuantParams* params,
                                       int64_t m, float* y, int64_t y_row_stride,
                                       RowSink row_done) const {
  if (blocks_) return multiply_in_blocks(q, params, m, y, y_row_stride, row_done);
  const bool per_row = options_.granularity == ActivationGranularity::kPerRow;
  // The int32 accumulators land in y itself and are turned into floats in place.
  matmul_->run(q, m, k_, y, y_row_stride);
  int8_detail::EpilogueRow epilogue = column_epilogue();
#pragma omp parallel for schedule(static) firstprivate(epilogue) if (m * n_ >= kParallelWork / 8)
  for (int64_t i = 0; i < m; ++i) {
    const quant::QuantParams p = params[per_row ? i : 0];
    epilogue.x_scale = p.scale;
    epilogue.x_zero_point = p.zero_point;
    float* row = y + i * y_row_stride;
    int8_detail::dequantize_row_in_place(row, n_, epilogue, isa_);
    if (row_done) row_done(i, row);
  }
}

void DynamicInt8Linear::multiply_in_blocks(const uint8_t* q, const quant::QuantParams* params,
                                           int64_t m, float* y, int64_t y_row_stride,
                                           RowSink row_done,
                                           const int8_detail::RowRange* own_rows) const {
  const bool per_row = options_.granularity == ActivationGranularity::kPerRow;
  static_assert(int8_detail::kAccBlock == 32, "the epilogue takes blocks of up to 32 columns");
  const int8_detail::EpilogueRow epilogue = column_epilogue();
  auto dequantize = [&](const int32_t* acc, int64_t row0, int64_t rows, int64_t col0) {
    // The last panel may be partly padding: only columns up to n are written.
    int8_detail::dequantize_block(acc, rows, std::min(int8_detail::kAccBlock, n_ - col0),
                                  params + (per_row ? row0 : 0), per_row ? 1 : 0,
                                  epilogue.from_column(col0), y + row0 * y_row_stride + col0,
                                  y_row_stride, isa_);
  };
  auto hand_row = [&](int64_t i) { row_done(i, y + i * y_row_stride); };
  const int8_detail::RowIndexSink rows_done =
      row_done ? int8_detail::RowIndexSink(hand_row) : int8_detail::RowIndexSink();
  if (own_rows) {
    blocks_->run_rows_on_this_thread(q + own_rows->first * k_, own_rows->count, k_, own_rows->first,
                                     dequantize, rows_done);
  } else {
    blocks_->run(q, m, k_, dequantize, rows_done);
  }
}

void DynamicInt8Linear::run_quantized_rows(const uint8_t* q, const quant::QuantParams* params,
                                           int64_t first, int64_t count, float* y,
                                           int64_t y_row_stride, RowSink row_done) const {
  if (!runs_rows_on_this_thread())
    throw Error(
        "DynamicInt8Linear::run_quantized_rows needs per-row activations on a block kernel");
  const int8_detail::RowRange own{first, count};
  multiply_in_blocks(q, params, first + count, y, y_row_stride, row_done, &own);
}

void DynamicInt8Linear::run_quantized_rows_to_blocks(const uint8_t* q,
                                                     const quant::QuantParams* params,
                                                     int64_t first, int64_t count,
                                                     BlockSink block_done) const {
  if (!runs_rows_on_this_thread())
    throw Error(
        "DynamicInt8Linear::run_quantized_rows_to_blocks needs per-row activations on a block "
        "kernel");
  constexpr int64_t kBlock = int8_detail::kAccBlock;
  const int8_detail::EpilogueRow epilogue = column_epilogue();
  alignas(64) float values[kBlock * kBlock];
  auto dequantize = [&](const int32_t* acc, int64_t row0, int64_t rows, int64_t col0) {
    const int64_t cols = std::min(kBlock, n_ - col0);
    int8_detail::dequantize_block(acc, rows, cols, params + row0, 1, epilogue.from_column(col0),
                                  values, kBlock, isa_);
    block_done(values, kBlock, row0, rows, col0, cols);
  };
  blocks_->run_rows_on_this_thread(q + first * k_, count, k_, first, dequantize);
}

void DynamicInt8Linear::run(const float* x, int64_t m, int64_t x_row_stride, float* y,
                            int64_t y_row_stride, RowSink row_done) const {
  if (m <= 0) return;
  const bool per_row = options_.granularity == ActivationGranularity::kPerRow;
  if (isa_ == IsaLevel::kRef) {
    int8_ref::dynamic_linear(x, m, x_row_stride, per_row, range_, *reference_weights_,
                             bias_.empty() ? nullptr : bias_.data(), activation_, y, y_row_stride);
    return hand_rows(row_done, y, m, y_row_stride);
  }
  const int64_t block = rows_per_block(m, blocks_ != nullptr);
  int8_detail::Scratch& scratch = int8_detail::thread_scratch();
  uint8_t* q = grow(scratch.q, block * k_);
  quant::QuantParams* params = grow(scratch.params, per_row ? block : 1);
  if (!per_row) params[0] = tensor_params(x, m, x_row_stride);
  for_each_block(m, block, row_done, [&](int64_t start, int64_t rows, RowSink sink) {
    run_block(x + start * x_row_stride, rows, x_row_stride, y + start * y_row_stride, y_row_stride,
              params, q, sink);
  });
}

void DynamicInt8Linear::run_quantized(const uint8_t* q, const quant::QuantParams* params, int64_t m,
                                      float* y, int64_t y_row_stride, RowSink row_done) const {
  if (m <= 0) return;
  if (!per_row()) throw Error("DynamicInt8Linear::run_quantized needs per-row activations");
  if (isa_ == IsaLevel::kRef) {
    int8_ref::linear_u8(q, m, k_, params, true, *reference_weights_,
                        bias_.empty() ? nullptr : bias_.data(), activation_, y, y_row_stride);
    return hand_rows(row_done, y, m, y_row_stride);
  }
  for_each_block(m, rows_per_block(m, blocks_ != nullptr), row_done,
                 [&](int64_t start, int64_t rows, RowSink sink) {
                   multiply_block(q + start * k_, params + start, rows, y + start * y_row_stride,
                                  y_row_stride, sink);
                 });
}

// ----------------------------------------------------------------- static

StaticInt8Linear::StaticInt8Linear(const Int8Weights& weights, const float* bias,
                                   Activation activation, quant::QuantParams input,
                                   quant::QuantRange range)
    : n_(weights.rows()),
      k_(weights.cols()),
      activation_(activation),
      input_(input),
      range_(range),
      isa_(isa_level()) {
  check_static_input(input, range, "StaticInt8Linear");
  if (isa_ != IsaLevel::kRef && !int8_detail::full_range_activations() && range_.qmax > 127) {
    // Same real interval on 7 bits, so VPMADDUBSW cannot saturate.
    float factor = static_cast<float>(range_.qmax - range_.qmin) / 127.0f;
    input_.scale *= factor;
    input_.zero_point = static_cast<int32_t>(std::nearbyint(input_.zero_point / factor));
    range_ = quant::u8_range(true);
  }
  if (bias) bias_.assign(bias, bias + n_);
  if (isa_ == IsaLevel::kRef) {
    reference_weights_ = reference_copy(weights);
    return;
  }
  // y = sx sw_j (acc - zp Σw_j + b_j / (sx sw_j)): oneDNN 2.x adds an int8
  // primitive's bias before the output scale, so the zero-point term and the
  // bias fold into one bias in accumulator units, and the scale is constant.
  scales_.resize(static_cast<size_t>(n_));
  folded_bias_.resize(static_cast<size_t>(n_));
  for (int64_t j = 0; j < n_; ++j) {
    scales_[j] = input_.scale * weights.scale(j);
    float b = bias ? bias[j] : 0.0f;
    folded_bias_[j] = b / scales_[j] - static_cast<float>(input_.zero_point) *
                                           static_cast<float>(weights.row_sums()[j]);
  }
  dnnl::primitive_attr attr = activation_attr(activation);
  attr.set_output_scales(2, scales_);
  matmul_ = std::make_unique<int8_detail::PackedInt8Matmul>(weights.data(), n_, k_, dt::f32, attr,
                                                            folded_bias_.data());
}

StaticInt8Linear::~StaticInt8Linear() = default;

void StaticInt8Linear::enable_quantized_output(quant::QuantParams output, quant::QuantRange range) {
  check_static_input(output, range, "StaticInt8Linear output");
  output_ = output;
  output_range_ = range;
  has_output_ = true;
  if (isa_ == IsaLevel::kRef) return;
  // Post-ops: act, then ×(1/scale) and a clip to the range around the zero
  // point, which oneDNN adds before rounding and saturating to u8.
  dnnl::primitive_attr attr;
  dnnl::post_ops ops;
  if (activation_ == Activation::kGelu) {
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
  }
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, 1.0f / output.scale, 0.0f);
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip,
                     static_cast<float>(range.qmin - output.zero_point),
                     static_cast<float>(range.qmax - output.zero_point));
  attr.set_post_ops(ops);
  attr.set_output_scales(2, scales_);
  if (output.zero_point != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {output.zero_point});
  matmul_u8_ =
      std::make_unique<int8_detail::PackedInt8Matmul>(*matmul_, dt::u8, attr, folded_bias_.data());
}

std::string StaticInt8Linear::implementation(int64_t m) const {
  return matmul_ ? matmul_->implementation(m) : "ref";
}

const uint8_t* StaticInt8Linear::quantize(const float* x, int64_t m, int64_t x_row_stride) const {
  uint8_t* q = grow(int8_detail::thread_scratch().q, m * k_);
  const float inv = quant::inverse_scale(input_.scale);
  const IsaLevel isa = isa_;
#pragma omp parallel for schedule(static) if (m * k_ >= kParallelWork)
  for (int64_t i = 0; i < m; ++i) {
    int8_detail::quantize_row_u8(x + i * x_row_stride, k_, inv, input_.zero_point, range_,
                                 q + i * k_, isa);
  }
  return q;
}

void StaticInt8Linear::reference_run(const uint8_t* q, int64_t m, int64_t q_row_stride, float* y,
                                     int64_t y_row_stride) const {
  int8_ref::linear_u8(q, m, q_row_stride, &input_, false, *reference_weights_,
                      bias_.empty() ? nullptr : bias_.data(), activation_, y, y_row_stride);
}

void StaticInt8Linear::run(const float* x, int64_t m, int64_t x_row_stride, float* y,
                           int64_t y_row_stride) const {
  if (m <= 0) return;
  const uint8_t* q = quantize(x, m, x_row_stride);
  run(q, m, k_, y, y_row_stride);
}

void StaticInt8Linear::run(const uint8_t* q, int64_t m, int64_t q_row_stride, float* y,
                           int64_t y_row_stride) const {
  if (m <= 0) return;
  if (isa_ == IsaLevel::kRef) return reference_run(q, m, q_row_stride, y, y_row_stride);
  matmul_->run(q, m, q_row_stride, y, y_row_stride);
}

void StaticInt8Linear::run(const float* x, int64_t m, int64_t x_row_stride, uint8_t* y,
                           int64_t y_row_stride) const {
  if (m <= 0) return;
  const uint8_t* q = quantize(x, m, x_row_stride);
  run(q, m, k_, y, y_row_stride);
}

void StaticInt8Linear::run(const uint8_t* q, int64_t m, int64_t q_row_stride, uint8_t* y,
                           int64_t y_row_stride) const {
  if (!has_output_) {
    throw Error(
        "StaticInt8Linear: u8 output requested but enable_quantized_output() was not called");
  }
  if (m <= 0) return;
  if (isa_ != IsaLevel::kRef) return matmul_u8_->run(q, m, q_row_stride, y, y_row_stride);
  // Reference: the float result, then the scalar quantizer.
  std::vector<float> row(static_cast<size_t>(n_));
  for (int64_t i = 0; i < m; ++i) {
    reference_run(q + i * q_row_stride, 1, q_row_stride, row.data(), n_);
    quant::quantize_u8(row.data(), n_, output_, output_range_, y + i * y_row_stride);
  }
}

}  // namespace quasr::kernels
