#include "kernels/quantized_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/cpu_features.h"
#include "core/tensor.h"
#include "kernels/dnnl_runtime.h"

namespace quasr::kernels {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

namespace {

constexpr int64_t kPackingRows = 256;
constexpr int64_t kPackingFrames = 4000;
constexpr size_t kMaxCachedShapes = 64;

// Per-thread scratch that only grows: quantized inputs and s32 accumulators.
struct Scratch {
  std::vector<uint8_t> codes;
  std::vector<int32_t> accumulators;
  std::vector<float> row_scales;
  std::vector<int32_t> row_zero_points;
};
Scratch& scratch() {
  thread_local Scratch buffers;
  return buffers;
}
template <typename T>
T* grown(std::vector<T>& buffer, size_t count) {
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

}  // namespace

void choose_u8_params(float lo, float hi, int qmax, float* scale, int32_t* zero_point) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  float s = (hi - lo) / static_cast<float>(qmax);
  if (!(s > 0.0f)) s = 1.0f;
  *scale = s;
  *zero_point = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / s), 0.0f, float(qmax)));
}

namespace {

void quantize_row(const float* x, int64_t count, float scale, int32_t zero_point, int qmax,
                  uint8_t* out) {
  const float inverse = 1.0f / scale;
  for (int64_t i = 0; i < count; ++i) {
    float q = std::nearbyint(x[i] * inverse) + static_cast<float>(zero_point);
    out[i] = static_cast<uint8_t>(std::clamp(q, 0.0f, static_cast<float>(qmax)));
  }
}

float gelu(float x) {
  return 0.5f * x * (1.0f + std::erf(x * float(M_SQRT1_2)));
}

std::vector<int32_t> row_sums(const int8_t* weight, int64_t rows, int64_t cols) {
  std::vector<int32_t> sums(rows, 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) sums[r] += weight[r * cols + c];
  return sums;
}

std::vector<float> expand_scales(const std::vector<float>& scales, int64_t n) {
  return scales.size() == 1 ? std::vector<float>(n, scales[0]) : scales;
}

// y[r, c] = (acc[r, c] - zp_r * wsum[c]) * s_r * ws[c] + bias[c], then activation.
void dequantize_rows(const int32_t* acc, int64_t rows, int64_t cols, const float* row_scale,
                     const int32_t* row_zero_point, bool per_row, const int32_t* weight_sums,
                     const float* weight_scales, const float* bias, Activation activation,
                     float* y) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float s = per_row ? row_scale[r] : row_scale[0];
    const int32_t zp = per_row ? row_zero_point[r] : row_zero_point[0];
    const int32_t* a = acc + r * cols;
    float* out = y + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      float value = static_cast<float>(a[c] - zp * weight_sums[c]) * s * weight_scales[c];
      out[c] = bias ? value + bias[c] : value;
    }
    if (activation == Activation::kGelu)
      for (int64_t c = 0; c < cols; ++c) out[c] = gelu(out[c]);
  }
}

}  // namespace

int activation_qmax() {
  return isa_level() >= IsaLevel::kAvx512Vnni ? 255 : 127;
}

void quantize_weights_s8(const float* weight, int64_t rows, int64_t cols, bool per_channel,
                         int8_t* out, std::vector<float>* scales) {
  auto scale_of = [](const float* begin, const float* end) {
    float peak = 0.0f;
    for (const float* p = begin; p != end; ++p) peak = std::max(peak, std::abs(*p));
    return peak > 0.0f ? peak / 127.0f : 1.0f;
  };
  scales->assign(per_channel ? rows : 1, 0.0f);
  if (!per_channel) (*scales)[0] = scale_of(weight, weight + rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = weight + r * cols;
    float s = per_channel ? ((*scales)[r] = scale_of(row, row + cols)) : (*scales)[0];
    for (int64_t c = 0; c < cols; ++c)
      out[r * cols + c] =
          static_cast<int8_t>(std::clamp(std::nearbyint(row[c] / s), -127.0f, 127.0f));
  }
}

Int8Linear::Int8Linear(const int8_t* weight, const std::vector<float>& scales, const float* bias,
                       int64_t n, int64_t k, ActivationQuant activation_quant,
                       Activation activation)
    : n_(n),
      k_(k),
      quant_(activation_quant),
      activation_(activation),
      weight_scales_(expand_scales(scales, n)),
      weight_sums_(row_sums(weight, n, k)),
      bias_(bias ? std::vector<float>(bias, bias + n) : std::vector<float>()) {
  auto& engine = cpu_engine();
  dnnl::memory::desc src({kPackingRows, k}, dt::u8, tag::ab);
  dnnl::memory::desc dst({kPackingRows, n}, dt::s32, tag::ab);
  dnnl::memory::desc any_weights({k, n}, dt::s8, tag::any);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, any_weights, dst), engine);
  weights_desc_ = pd.weights_desc();
  weights_ = dnnl::memory(weights_desc_, engine);
  dnnl::memory::desc plain({k, n}, dt::s8, dnnl::memory::dims{1, k});
  dnnl::memory source(plain, engine, const_cast<int8_t*>(weight));
  dnnl::reorder(source, weights_).execute(cpu_stream(), source, weights_);
  cpu_stream().wait();
}

dnnl::matmul Int8Linear::primitive_for(int64_t m) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = primitives_.find(m);
  if (found != primitives_.end()) return found->second;
  if (primitives_.size() >= kMaxCachedShapes) primitives_.clear();
  dnnl::memory::desc src({m, k_}, dt::u8, tag::ab);
  dnnl::memory::desc dst({m, n_}, dt::s32, tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights_desc_, dst), cpu_engine());
  return primitives_.emplace(m, dnnl::matmul(pd)).first->second;
}

void Int8Linear::run(const float* x, int64_t m, float* y) const {
  if (m == 0) return;
  Scratch& buffers = scratch();
  uint8_t* codes = grown(buffers.codes, static_cast<size_t>(m * k_));
  int32_t* acc = grown(buffers.accumulators, static_cast<size_t>(m * n_));
  float* scales = grown(buffers.row_scales, static_cast<size_t>(m));
  int32_t* zero_points = grown(buffers.row_zero_points, static_cast<size_t>(m));
  const int qmax = activation_qmax();
  const bool per_row = quant_.mode == ActivationQuant::Mode::kDynamicPerRow;
  if (quant_.mode == ActivationQuant::Mode::kStatic) {
    scales[0] = quant_.scale;
    zero_points[0] = quant_.zero_point;
  } else if (!per_row) {
    auto [lo, hi] = std::minmax_element(x, x + m * k_);
    choose_u8_params(*lo, *hi, qmax, &scales[0], &zero_points[0]);
  }
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < m; ++r) {
    const float* row = x + r * k_;
    if (per_row) {
      auto [lo, hi] = std::minmax_element(row, row + k_);
      choose_u8_params(*lo, *hi, qmax, &scales[r], &zero_points[r]);
    }
    quantize_row(row, k_, per_row ? scales[r] : scales[0],
                 per_row ? zero_points[r] : zero_points[0], qmax, codes + r * k_);
  }
  auto& engine = cpu_engine();
  dnnl::memory src({{m, k_}, dt::u8, tag::ab}, engine, codes);
  dnnl::memory dst({{m, n_}, dt::s32, tag::ab}, engine, acc);
  primitive_for(m).execute(
      cpu_stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst}});
  cpu_stream().wait();
  dequantize_rows(acc, m, n_, scales, zero_points, per_row, weight_sums_.data(),
                  weight_scales_.data(), bias_.empty() ? nullptr : bias_.data(), activation_, y);
}

Int8Conv1d::Int8Conv1d(const Conv1dShape& shape, const int8_t* weight,
                       const std::vector<float>& scales, const float* bias, float input_scale,
                       int32_t input_zero_point, Activation activation)
    : shape_(shape),
      input_scale_(input_scale),
      input_zero_point_(input_zero_point),
      activation_(activation),
      weight_scales_(expand_scales(scales, shape.out_channels)),
      weight_sums_(
          row_sums(weight, shape.out_channels, shape.in_channels / shape.groups * shape.kernel)),
      bias_(bias ? std::vector<float>(bias, bias + shape.out_channels) : std::vector<float>()) {
  const Conv1dShape& s = shape_;
  dnnl::memory::desc plain =
      s.groups == 1
          ? dnnl::memory::desc({s.out_channels, s.in_channels, s.kernel}, dt::s8, tag::oiw)
          : dnnl::memory::desc(
                {s.groups, s.out_channels / s.groups, s.in_channels / s.groups, s.kernel}, dt::s8,
                tag::goiw);
  Prepared prepared = prepared_for(kPackingFrames);
  weights_ = dnnl::memory(prepared.weights.get_desc(), cpu_engine());
  dnnl::memory source(plain, cpu_engine(), const_cast<int8_t*>(weight));
  dnnl::reorder(source, weights_).execute(cpu_stream(), source, weights_);
  cpu_stream().wait();
  prepared_.clear();
}

Int8Conv1d::Prepared Int8Conv1d::prepared_for(int64_t padded_t_in) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = prepared_.find(padded_t_in);
  if (found != prepared_.end()) return found->second;
  if (prepared_.size() >= kMaxCachedShapes) prepared_.clear();
  const Conv1dShape& s = shape_;
  int64_t t_out = (padded_t_in - s.kernel) / s.stride + 1;
  dnnl::memory::desc src({1, s.in_channels, padded_t_in}, dt::u8, tag::nwc);
  dnnl::memory::desc dst({1, s.out_channels, t_out}, dt::s32, tag::nwc);
  dnnl::memory::desc any_weights =
      s.groups == 1
          ? dnnl::memory::desc({s.out_channels, s.in_channels, s.kernel}, dt::s8, tag::any)
          : dnnl::memory::desc(
                {s.groups, s.out_channels / s.groups, s.in_channels / s.groups, s.kernel}, dt::s8,
                tag::any);
  dnnl::convolution_forward::primitive_desc pd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                      dnnl::algorithm::convolution_direct, src, any_weights, dst,
                                      {s.stride}, {0}, {0}),
      cpu_engine());
  dnnl::memory weights = weights_;
  if (weights_ && pd.weights_desc() != weights_.get_desc()) {
    dnnl::memory packed = weights_;
    weights = dnnl::memory(pd.weights_desc(), cpu_engine());
    dnnl::reorder(packed, weights).execute(cpu_stream(), packed, weights);
    cpu_stream().wait();
  } else if (!weights_) {
    weights = dnnl::memory(pd.weights_desc(), cpu_engine());
  }
  return prepared_.emplace(padded_t_in, Prepared{dnnl::convolution_forward(pd), weights})
      .first->second;
}

void Int8Conv1d::run(const float* x, int64_t t_in, float* y) const {
  const Conv1dShape& s = shape_;
  const int64_t t_out = s.output_length(t_in);
  if (t_out == 0) return;
  const int64_t padded = t_in + 2 * s.padding;
  Scratch& buffers = scratch();
  uint8_t* codes = grown(buffers.codes, static_cast<size_t>(padded * s.in_channels));
  int32_t* acc = grown(buffers.accumulators, static_cast<size_t>(t_out * s.out_channels));
  const int qmax = activation_qmax();
  std::memset(codes, input_zero_point_, static_cast<size_t>(s.padding * s.in_channels));
  std::memset(codes + (s.padding + t_in) * s.in_channels, input_zero_point_,
              static_cast<size_t>(s.padding * s.in_channels));
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < t_in; ++t)
    quantize_row(x + t * s.in_channels, s.in_channels, input_scale_, input_zero_point_, qmax,
                 codes + (s.padding + t) * s.in_channels);
  Prepared prepared = prepared_for(padded);
  auto& engine = cpu_engine();
  dnnl::memory src({{1, s.in_channels, padded}, dt::u8, tag::nwc}, engine, codes);
  dnnl::memory dst({{1, s.out_channels, t_out}, dt::s32, tag::nwc}, engine, acc);
  prepared.primitive.execute(
      cpu_stream(),
      {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, prepared.weights}, {DNNL_ARG_DST, dst}});
  cpu_stream().wait();
  const float scale = input_scale_;
  const int32_t zero_point = input_zero_point_;
  dequantize_rows(acc, t_out, s.out_channels, &scale, &zero_point, /*per_row=*/false,
                  weight_sums_.data(), weight_scales_.data(),
                  bias_.empty() ? nullptr : bias_.data(), activation_, y);
}

}  // namespace quasr::kernels
