#include "model/quantized_backends.h"

#include "core/error.h"
#include "kernels/quantized_gemm.h"

namespace quasr::model {

QuantizedWeights read_quantized_weights(const BuildContext& ctx, const std::string& path,
                                        const Shape& shape, const LeafQuantSpec& spec) {
  QuantizedWeights weights;
  weights.shape = shape;
  weights.data = reinterpret_cast<const int8_t*>(ctx.raw(path + ".weight", shape, DType::kI8).data);
  weights.scales = ctx.read(path + ".weight_scale", {spec.per_channel_weights ? shape[0] : 1});
  return weights;
}

namespace {

class Int8LinearBackend : public LinearBackend {
 public:
  explicit Int8LinearBackend(std::unique_ptr<kernels::Int8Linear> kernel)
      : kernel_(std::move(kernel)) {}
  void run(const float* x, int64_t rows, float* y) const override { kernel_->run(x, rows, y); }

 private:
  std::unique_ptr<kernels::Int8Linear> kernel_;
};

class Int8ConvBackend : public Conv1dBackend {
 public:
  explicit Int8ConvBackend(std::unique_ptr<kernels::Int8Conv1d> kernel)
      : kernel_(std::move(kernel)) {}
  void run(const float* x, int64_t t_in, float* y) const override { kernel_->run(x, t_in, y); }

 private:
  std::unique_ptr<kernels::Int8Conv1d> kernel_;
};

kernels::ActivationQuant activation_quant(const LeafQuantSpec& spec) {
  kernels::ActivationQuant quant;
  if (spec.scheme == "static_int8") {
    quant.mode = kernels::ActivationQuant::Mode::kStatic;
    quant.scale = spec.input_scale;
    quant.zero_point = spec.input_zero_point;
  } else {
    quant.mode = spec.per_row_activations ? kernels::ActivationQuant::Mode::kDynamicPerRow
                                          : kernels::ActivationQuant::Mode::kDynamicPerTensor;
  }
  return quant;
}

}  // namespace

std::unique_ptr<LinearBackend> make_quantized_linear(const LeafQuantSpec& spec,
                                                     const QuantizedWeights& weights,
                                                     const float* bias,
                                                     kernels::Activation activation) {
  return std::make_unique<Int8LinearBackend>(
      std::make_unique<kernels::Int8Linear>(weights.data, weights.scales, bias, weights.shape[0],
                                            weights.shape[1], activation_quant(spec), activation));
}

std::unique_ptr<Conv1dBackend> make_quantized_conv(const LeafQuantSpec& spec,
                                                   const kernels::Conv1dShape& shape,
                                                   const QuantizedWeights& weights,
                                                   const float* bias,
                                                   kernels::Activation activation) {
  if (spec.scheme != "static_int8")
    throw Error("Conv1d supports static_int8 only, not '" + spec.scheme + "'");
  return std::make_unique<Int8ConvBackend>(
      std::make_unique<kernels::Int8Conv1d>(shape, weights.data, weights.scales, bias,
                                            spec.input_scale, spec.input_zero_point, activation));
}

}  // namespace quasr::model
