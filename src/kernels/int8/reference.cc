#include "kernels/int8/reference.h"

#include <cmath>
#include <vector>

namespace quasr::kernels::int8_ref {
namespace {

float activate(float v, Activation activation) {
  if (activation == Activation::kGelu) return 0.5f * v * (1.0f + std::erf(v * float(M_SQRT1_2)));
  return v;
}

}  // namespace

void choose_activation_params(const float* x, int64_t m, int64_t k, int64_t x_stride, bool per_row,
                              quant::QuantRange range, quant::QuantParams* params) {
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < m; ++i) {
    float a, b;
    quant::min_max(x + i * x_stride, k, &a, &b);
    if (per_row) {
      params[i] = quant::choose_dynamic_fbgemm(a, b, range);
    } else {
      lo = i == 0 ? a : std::min(lo, a);
      hi = i == 0 ? b : std::max(hi, b);
    }
  }
  if (!per_row) params[0] = quant::choose_dynamic_fbgemm(lo, hi, range);
}

void linear_u8(const uint8_t* q, int64_t m, int64_t q_stride, const quant::QuantParams* params,
               bool per_row, const Int8Weights& w, const float* bias, Activation activation,
               float* y, int64_t y_stride) {
  const int64_t n = w.rows(), k = w.cols();
  for (int64_t i = 0; i < m; ++i) {
    const quant::QuantParams p = params[per_row ? i : 0];
    const uint8_t* qi = q + i * q_stride;
    for (int64_t j = 0; j < n; ++j) {
      const int8_t* wj = w.data() + j * k;
      int32_t acc = 0;
      for (int64_t l = 0; l < k; ++l) acc += int32_t(qi[l]) * int32_t(wj[l]);
      acc -= p.zero_point * w.row_sums()[j];
      float v = static_cast<float>(acc) * (p.scale * w.scale(j));
      if (bias) v += bias[j];
      y[i * y_stride + j] = activate(v, activation);
    }
  }
}

void dynamic_linear(const float* x, int64_t m, int64_t x_stride, bool per_row,
                    quant::QuantRange range, const Int8Weights& w, const float* bias,
                    Activation activation, float* y, int64_t y_stride) {
  if (m == 0) return;
  const int64_t k = w.cols();
  std::vector<quant::QuantParams> params(per_row ? m : 1);
  choose_activation_params(x, m, k, x_stride, per_row, range, params.data());
  std::vector<uint8_t> q(static_cast<size_t>(m * k));
  for (int64_t i = 0; i < m; ++i) {
    quant::quantize_u8(x + i * x_stride, k, params[per_row ? i : 0], range, q.data() + i * k);
  }
  linear_u8(q.data(), m, k, params.data(), per_row, w, bias, activation, y, y_stride);
}

void static_linear(const float* x, int64_t m, int64_t x_stride, quant::QuantParams input,
                   quant::QuantRange range, const Int8Weights& w, const float* bias,
                   Activation activation, float* y, int64_t y_stride) {
  const int64_t k = w.cols();
  std::vector<uint8_t> q(static_cast<size_t>(m * k));
  for (int64_t i = 0; i < m; ++i) {
    quant::quantize_u8(x + i * x_stride, k, input, range, q.data() + i * k);
  }
  linear_u8(q.data(), m, k, &input, false, w, bias, activation, y, y_stride);
}

void static_conv1d(const float* x, int64_t t_in, const Conv1dShape& s, quant::QuantParams input,
                   quant::QuantRange range, const Int8Weights& w, const float* bias,
                   Activation activation, float* y) {
  const int64_t t_out = s.output_length(t_in);
  const int64_t cig = s.in_channels / s.groups, cog = s.out_channels / s.groups;
  std::vector<uint8_t> q(static_cast<size_t>(t_in * s.in_channels));
  quant::quantize_u8(x, t_in * s.in_channels, input, range, q.data());
  for (int64_t t = 0; t < t_out; ++t) {
    for (int64_t oc = 0; oc < s.out_channels; ++oc) {
      const int64_t g = oc / cog;
      const int8_t* wo = w.data() + oc * cig * s.kernel;
      int32_t acc = 0;
      for (int64_t kk = 0; kk < s.kernel; ++kk) {
        int64_t ti = t * s.stride + kk - s.padding;
        if (ti < 0 || ti >= t_in) continue;  // zero padding: (q - zp) = 0
        const uint8_t* xq = q.data() + ti * s.in_channels + g * cig;
        for (int64_t ci = 0; ci < cig; ++ci) {
          acc += (int32_t(xq[ci]) - input.zero_point) * int32_t(wo[ci * s.kernel + kk]);
        }
      }
      float v = static_cast<float>(acc) * (input.scale * w.scale(oc));
      if (bias) v += bias[oc];
      y[t * s.out_channels + oc] = activate(v, activation);
    }
  }
}

}  // namespace quasr::kernels::int8_ref
