#include "model/quantized_backends.h"

#include "core/error.h"
#include "kernels/int8/int8_conv1d.h"
#include "kernels/int8/int8_linear.h"

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

// Adapts a kernel with run(x, rows, y) to a leaf backend interface.
template <typename Base, typename Kernel>
class KernelBackend : public Base {
 public:
  explicit KernelBackend(std::unique_ptr<Kernel> kernel) : kernel_(std::move(kernel)) {}
  void run(const float* x, int64_t rows, float* y) const override { kernel_->run(x, rows, y); }

 protected:
  std::unique_ptr<Kernel> kernel_;
};

class DynamicLinearBackend : public KernelBackend<LinearBackend, kernels::DynamicInt8Linear> {
 public:
  using KernelBackend::KernelBackend;
  const kernels::DynamicInt8Linear* per_row_dynamic_int8() const override {
    return kernel_->per_row() ? kernel_.get() : nullptr;
  }
};

class StaticConvBackend : public KernelBackend<Conv1dBackend, kernels::StaticInt8Conv1d> {
 public:
  using KernelBackend::KernelBackend;
  const kernels::StaticInt8Conv1d* static_int8() const override { return kernel_.get(); }
  bool runs_concurrently() const override { return kernel_->runs_concurrently(); }
  bool run_handing_rows(const float* x, int64_t t_in, float* y,
                        kernels::RowSink row_done) const override {
    kernel_->run(x, t_in, y, row_done);
    return true;
  }
};

kernels::Int8Weights borrow(const QuantizedWeights& weights) {
  int64_t rows = weights.shape[0];
  return kernels::Int8Weights::borrow(weights.data, rows, shape_numel(weights.shape) / rows,
                                      weights.scales.data(),
                                      static_cast<int64_t>(weights.scales.size()));
}

}  // namespace

std::unique_ptr<LinearBackend> make_quantized_linear(const LeafQuantSpec& spec,
                                                     const QuantizedWeights& weights,
                                                     const float* bias,
                                                     kernels::Activation activation) {
  kernels::Int8Weights int8 = borrow(weights);
  if (spec.scheme == "static_int8") {
    quant::QuantParams input{spec.input_scale, spec.input_zero_point};
    return std::make_unique<KernelBackend<LinearBackend, kernels::StaticInt8Linear>>(
        std::make_unique<kernels::StaticInt8Linear>(int8, bias, activation, input));
  }
  kernels::DynamicInt8Options options;
  options.granularity = spec.per_row_activations ? kernels::ActivationGranularity::kPerRow
                                                 : kernels::ActivationGranularity::kPerTensor;
  return std::make_unique<DynamicLinearBackend>(
      std::make_unique<kernels::DynamicInt8Linear>(int8, bias, activation, options));
}

std::unique_ptr<Conv1dBackend> make_quantized_conv(const LeafQuantSpec& spec,
                                                   const kernels::Conv1dShape& shape,
                                                   const QuantizedWeights& weights,
                                                   const float* bias,
                                                   kernels::Activation activation) {
  if (spec.scheme != "static_int8")
    throw Error("Conv1d supports static_int8 only, not '" + spec.scheme + "'");
  quant::QuantParams input{spec.input_scale, spec.input_zero_point};
  return std::make_unique<StaticConvBackend>(
      std::make_unique<kernels::StaticInt8Conv1d>(shape, borrow(weights), bias, activation, input));
}

}  // namespace quasr::model
