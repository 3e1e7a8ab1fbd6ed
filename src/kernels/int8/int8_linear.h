// Int8 fully connected layers y = act(deq(q(x) · Wqᵀ) + b) for time-major
// activations: x [m, k] row-major (row stride >= k), y [m, n] (row stride >= n).
//
//   // quantize: fp32 [n, k] -> int8 + scales (save w.data(), w.scales())
//   kernels::Int8Weights w = kernels::Int8Weights::quantize(weight_nk, n, k, true);
//   // or load: int8 + scales straight from a mapped model file
//   kernels::Int8Weights w = kernels::Int8Weights::borrow(data, n, k, scales, n);
//   kernels::DynamicInt8Linear fc(w, bias, kernels::Activation::kGelu);
//   fc.run(x, frames, y);
//   // static: input (scale, zero point) from calibration
//   kernels::StaticInt8Linear sfc(w, bias, kernels::Activation::kNone,
//                                 quant::choose_asymmetric(lo, hi, quant::u8_range(false)));
//
// Weights are s8 symmetric (per output channel or per tensor), packed once at
// construction (the dynamic Linear into quasr's AMX tile order where AMX-INT8
// is usable, otherwise into oneDNN's layout for this CPU: AMX / AVX-512 VNNI
// / AVX2); the Int8Weights may be dropped afterwards. Activations are u8 with a zero
// point. Products accumulate in int32; the zero-point term uses the weight
// row sums precomputed at construction.
//
// ISA: isa_level() is read at construction. QUASR_ISA=ref runs the scalar
// reference (kernels/int8/reference.h); other levels only steer quasr's own
// vector code (quantizer, epilogue): oneDNN picks its kernel itself (AMX,
// AVX-512 VNNI, AVX2), capped by DNNL_MAX_CPU_ISA. Where AMX-INT8 is usable
// (kernels/amx_tiles.h; QUASR_AMX=0 turns it off) the dynamic Linear runs
// quasr's own AMX kernel (int8/amx_int8_matmul.h) for shapes it covers, and
// at quasr's ISA level avx2 its own AVX2 kernel (int8/avx2_int8_matmul.h):
// the same int32 sums, so the same output bits as through oneDNN. Where
// either has no VNNI, u8×s8 products go through VPMADDUBSW, whose int16 pair
// sums saturate for 8-bit activations, so activations are kept to 7 bits
// (0..127, PyTorch's reduce_range; static input params are widened to the
// same real range).
//
// Thread safety: run() may be called from several threads; each thread keeps
// its own scratch buffers, which only grow (no allocation in steady state
// beyond oneDNN's small per-call handles).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "kernels/int8/epilogue.h"
#include "kernels/int8/int8_weights.h"
#include "kernels/packed_matmul.h"
#include "kernels/row_sink.h"
#include "quant/quant_math.h"

namespace quasr::kernels {

namespace amx_panels {
struct RowRange;
}  // namespace amx_panels
namespace int8_detail {
class PackedInt8Matmul;
class BlockInt8Matmul;
using amx_panels::RowRange;
}  // namespace int8_detail

enum class ActivationGranularity {
  kPerRow,     // one (scale, zero point) per row (frame/token) of x
  kPerTensor,  // one for the whole x of this call
};

struct DynamicInt8Options {
  ActivationGranularity granularity = ActivationGranularity::kPerRow;
  // 7-bit activations (0..127). Forced on where the CPU lacks VNNI. With
  // kPerTensor and per-tensor weights this is fbgemm's quantize_dynamic
  // (quantized::linear_dynamic, reduce_range=True) exactly.
  bool reduce_range = false;
};

// Activation parameters chosen at run time from each row's (or the whole
// input's) min and max with quant::choose_dynamic_fbgemm.
class DynamicInt8Linear {
 public:
  // bias (n floats) may be null; it is copied.
  DynamicInt8Linear(const Int8Weights& weights, const float* bias, Activation activation,
                    DynamicInt8Options options = {});
  ~DynamicInt8Linear();

  // row_done (optional) sees each output row as it is finished.
  void run(const float* x, int64_t m, int64_t x_row_stride, float* y, int64_t y_row_stride,
           RowSink row_done = {}) const;
  void run(const float* x, int64_t m, float* y) const { run(x, m, k_, y, n_); }

  // Per-row granularity only: quantizes one row (k floats) exactly as run()
  // does, into q (k bytes) and *params — for a producer that has the row in
  // cache anyway, such as the previous linear's row_done.
  void quantize_row(const float* x, uint8_t* q, quant::QuantParams* params) const;
  // Per-row granularity only: run() on rows already quantized by
  // quantize_row (q [m, k] dense, params [m]).
  void run_quantized(const uint8_t* q, const quant::QuantParams* params, int64_t m, float* y,
                     int64_t y_row_stride, RowSink row_done = {}) const;
  bool per_row() const { return options_.granularity == ActivationGranularity::kPerRow; }
  // Whether run_quantized_rows can be used (per-row activations, one of
  // quasr's block kernels).
  bool runs_rows_on_this_thread() const { return blocks_ && per_row(); }
  // run_quantized's rows [first, first + count) on the calling thread alone,
  // row_done there too (q, params and y indexed by absolute row): for callers
  // whose threads each keep their own rows through several steps, with no
  // barrier between them.
  void run_quantized_rows(const uint8_t* q, const quant::QuantParams* params, int64_t first,
                          int64_t count, float* y, int64_t y_row_stride, RowSink row_done) const;
  // A finished block of the output: values[r * ld + c] is row row0 + r,
  // column col0 + c (up to 32 rows and 32 columns).
  using BlockSink = FunctionRef<void(const float* values, int64_t ld, int64_t row0, int64_t rows,
                                     int64_t col0, int64_t cols)>;
  // run_quantized_rows with every dequantized block handed to block_done
  // (from a per-thread buffer, on the calling thread) instead of written to
  // an output array: for a consumer that lays the output out its own way.
  void run_quantized_rows_to_blocks(const uint8_t* q, const quant::QuantParams* params,
                                    int64_t first, int64_t count, BlockSink block_done) const;

  int64_t in_features() const { return k_; }
  int64_t out_features() const { return n_; }
  const DynamicInt8Options& options() const { return options_; }
  quant::QuantRange activation_range() const { return range_; }
  // oneDNN implementation used for m rows ("ref" on the reference path).
  std::string implementation(int64_t m) const;

 private:
  quant::QuantParams tensor_params(const float* x, int64_t m, int64_t x_row_stride) const;
  // Quantize m rows (per-row params written to params[i]; per-tensor params
  // read from params[0]), multiply, dequantize.
  void run_block(const float* x, int64_t m, int64_t x_row_stride, float* y, int64_t y_row_stride,
                 quant::QuantParams* params, uint8_t* q, RowSink row_done) const;
  // The epilogue's per-column part (weight scales and sums, bias, activation).
  int8_detail::EpilogueRow column_epilogue() const;
  // Multiply m quantized rows, dequantize, hand each row to row_done.
  void multiply_block(const uint8_t* q, const quant::QuantParams* params, int64_t m, float* y,
                      int64_t y_row_stride, RowSink row_done) const;
  // The same on quasr's block kernel (AMX or AVX2), dequantizing each
  // 32 x 32 block as it is finished; with own_rows, only those rows, on the
  // calling thread.
  void multiply_in_blocks(const uint8_t* q, const quant::QuantParams* params, int64_t m, float* y,
                          int64_t y_row_stride, RowSink row_done,
                          const int8_detail::RowRange* own_rows = nullptr) const;

  int64_t n_;
  int64_t k_;
  Activation activation_;
  DynamicInt8Options options_;
  quant::QuantRange range_;
  IsaLevel isa_;
  std::vector<float> w_scales_;  // n values even for per-tensor weights
  std::vector<int32_t> w_sums_;
  std::vector<float> bias_;
  std::unique_ptr<int8_detail::PackedInt8Matmul> matmul_;  // s32 output, or
  std::unique_ptr<int8_detail::BlockInt8Matmul> blocks_;   // quasr's kernel where one covers it
  std::unique_ptr<Int8Weights> reference_weights_;         // QUASR_ISA=ref only
};

// Activation parameters fixed at construction (from calibration): quantizing
// x is one fused pass, and dequantization, bias and GELU run inside oneDNN's
// kernel (constant per-channel output scales, the zero-point term folded
// into the bias).
class StaticInt8Linear {
 public:
  // input: the calibrated scale and zero point of x, for range (u8 0..255 by
  // default; quant::u8_range(true) for 7-bit). Throws quasr::Error if the
  // zero point lies outside the range or the scale is not positive.
  StaticInt8Linear(const Int8Weights& weights, const float* bias, Activation activation,
                   quant::QuantParams input, quant::QuantRange range = quant::u8_range(false));
  ~StaticInt8Linear();

  void run(const float* x, int64_t m, int64_t x_row_stride, float* y, int64_t y_row_stride) const;
  void run(const float* x, int64_t m, float* y) const { run(x, m, k_, y, n_); }

  // Chaining two static layers without a float round trip. Input side: q is x
  // already quantized with input_params() / input_range() (u8 [m, k]).
  void run(const uint8_t* q, int64_t m, int64_t q_row_stride, float* y, int64_t y_row_stride) const;
  // Output side: after enable_quantized_output(p, r) (pass the next layer's
  // input_params() and input_range()), these write
  //   y_q = clamp(round(act(y) / p.scale) + p.zero_point, r)
  // (oneDNN rounds after its own scaling: y_q may differ by 1 from quantizing
  // the float output). Throws quasr::Error if it was not enabled.
  void enable_quantized_output(quant::QuantParams output, quant::QuantRange range);
  bool has_quantized_output() const { return has_output_; }
  void run(const float* x, int64_t m, int64_t x_row_stride, uint8_t* y, int64_t y_row_stride) const;
  void run(const uint8_t* q, int64_t m, int64_t q_row_stride, uint8_t* y,
           int64_t y_row_stride) const;

  int64_t in_features() const { return k_; }
  int64_t out_features() const { return n_; }
  quant::QuantParams input_params() const { return input_; }
  quant::QuantRange input_range() const { return range_; }
  std::string implementation(int64_t m) const;

 private:
  const uint8_t* quantize(const float* x, int64_t m, int64_t x_row_stride) const;
  void reference_run(const uint8_t* q, int64_t m, int64_t q_row_stride, float* y,
                     int64_t y_row_stride) const;

  int64_t n_;
  int64_t k_;
  Activation activation_;
  quant::QuantParams input_;
  quant::QuantRange range_;
  IsaLevel isa_;
  std::vector<float> scales_;       // input scale × weight scale, per output channel
  std::vector<float> folded_bias_;  // bias and zero-point term, accumulator units
  std::unique_ptr<int8_detail::PackedInt8Matmul> matmul_;     // f32 output
  std::unique_ptr<int8_detail::PackedInt8Matmul> matmul_u8_;  // u8 output
  bool has_output_ = false;
  quant::QuantParams output_;
  quant::QuantRange output_range_;
  std::vector<float> bias_;  // reference path
  std::unique_ptr<Int8Weights> reference_weights_;
};

// Checks a static input range/params pair; shared with the conv.
void check_static_input(quant::QuantParams input, quant::QuantRange range, const char* what);

}  // namespace quasr::kernels
