// quasr's per-tensor dynamic int8 Linear against PyTorch 1.13's
// quantize_dynamic (default qconfig) on the x86 engine: fixtures from
// tools/make_quant_fixtures.py. The mode that reproduces PyTorch is
// per-tensor weights (Int8Weights::quantize(..., per_channel=false), equal to
// qweight.int_repr()) and per-tensor 7-bit activations
// (ActivationGranularity::kPerTensor, reduce_range = true), whose parameters
// come from quant::choose_dynamic_fbgemm. Outputs then agree within one
// accumulator LSB, x_scale * w_scale.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "io/npy.h"
#include "kernels/int8/int8_linear.h"

namespace quasr::kernels {
namespace {

NpyArray load(const std::string& layer, const std::string& key) {
  return read_npy_f32(std::string(QUASR_FIXTURE_DIR) + "/quant/dynamic_" + layer + "_" + key +
                      ".npy");
}

class TorchDynamicParity : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchDynamicParity, WeightsMatchTorchIntRepr) {
  const std::string layer = GetParam();
  NpyArray weight = load(layer, "weight");
  NpyArray weight_int = load(layer, "weight_int");
  NpyArray weight_scale = load(layer, "weight_scale");
  const int64_t n = weight.shape[0], k = weight.shape[1];
  Int8Weights w = Int8Weights::quantize(weight.data.data(), n, k, false);
  EXPECT_FLOAT_EQ(w.scale(0), weight_scale.data[0]);
  for (int64_t i = 0; i < n * k; ++i) {
    ASSERT_EQ(static_cast<float>(w.data()[i]), weight_int.data[i]) << layer << " @" << i;
  }
}

TEST_P(TorchDynamicParity, OutputWithinOneAccumulatorLsb) {
  const std::string layer = GetParam();
  NpyArray x = load(layer, "x");
  NpyArray bias = load(layer, "bias");
  NpyArray weight_int = load(layer, "weight_int");
  NpyArray weight_scale = load(layer, "weight_scale");
  NpyArray y_torch = load(layer, "y");
  const int64_t m = x.shape[0], k = x.shape[1], n = weight_int.shape[0];
  // Built from PyTorch's int8 weights, as when loading a quantized file.
  std::vector<int8_t> data(weight_int.data.begin(), weight_int.data.end());
  Int8Weights w = Int8Weights::copy(data.data(), n, k, weight_scale.data.data(), 1);
  DynamicInt8Options options;
  options.granularity = ActivationGranularity::kPerTensor;
  options.reduce_range = true;
  DynamicInt8Linear fc(w, bias.data.data(), Activation::kNone, options);
  std::vector<float> y(m * n);
  fc.run(x.data.data(), m, y.data());
  float lo = x.data[0], hi = x.data[0];
  for (float v : x.data) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const float x_scale = quant::choose_dynamic_fbgemm(lo, hi, quant::u8_range(true)).scale;
  const float lsb = x_scale * weight_scale.data[0];
  for (int64_t i = 0; i < m * n; ++i) {
    ASSERT_LE(std::fabs(y[i] - y_torch.data[i]), lsb * 1.01f + 1e-6f * std::fabs(y_torch.data[i]))
        << layer << " @" << i << " quasr " << y[i] << " torch " << y_torch.data[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Layers, TorchDynamicParity,
                         ::testing::Values("l64x48", "l33x17", "l5x3", "gelu128x20"));

}  // namespace
}  // namespace quasr::kernels
