#include "model/module_tree.h"

#include <algorithm>
#include <exception>
#include <mutex>

#include "core/cpu_features.h"
#include "core/error.h"
#include "kernels/amx_bf16x3_linear.h"
#include "kernels/avx2_f32_linear.h"
#include "kernels/elementwise.h"
#include "kernels/group_major.h"
#include "kernels/grouped_conv1d_f32.h"
#include "kernels/single_channel_conv1d.h"
#include "model/quantized_backends.h"

namespace quasr::model {

int64_t ModuleInfo::parameter_count() const {
  int64_t count = 0;
  for (const ParamInfo& param : params) count += shape_numel(param.shape);
  return count;
}

std::vector<float> BuildContext::read(const std::string& key, const Shape& shape) const {
  return dict_.get_f32(key_prefix_ + key, shape);
}

const RawTensor& BuildContext::raw(const std::string& key, const Shape& shape, DType dtype) const {
  const RawTensor& tensor = dict_.get(key_prefix_ + key);
  if (tensor.shape != shape || tensor.dtype != dtype)
    throw Error(dict_.source() + ": tensor '" + key_prefix_ + key + "' is " +
                dtype_name(tensor.dtype) + " " + shape_to_string(tensor.shape) + ", expected " +
                dtype_name(dtype) + " " + shape_to_string(shape));
  return tensor;
}

bool BuildContext::has(const std::string& key) const {
  return dict_.contains(key_prefix_ + key);
}

void BuildContext::record(const std::string& path, const std::string& type,
                          std::vector<ParamInfo> params, const std::string& scheme) const {
  if (build_) build_->modules.push_back(ModuleInfo{name(path), type, std::move(params), scheme});
}

void BuildContext::register_leaf(Leaf* leaf) const {
  if (build_) build_->leaves.push_back(leaf);
}

const LeafQuantSpec* BuildContext::quantized(const std::string& path) const {
  if (!build_) return nullptr;
  auto found = build_->quantized.find(name(path));
  return found == build_->quantized.end() ? nullptr : &found->second;
}

void BuildContext::defer(std::function<void()> work) const {
  if (build_) {
    build_->deferred.push_back(std::move(work));
  } else {
    work();
  }
}

void ModelBuild::run_deferred() {
  // Packing a large model's int8 weights is a few hundred oneDNN reorders and
  // row sums; one leaf per task spreads them over the threads (each task's
  // oneDNN calls run single-threaded inside the region). Errors cannot leave
  // an OpenMP region: the first is kept and rethrown.
  std::vector<std::function<void()>> work = std::move(deferred);
  deferred.clear();
  std::exception_ptr first_error;
  std::mutex error_mutex;
  const int64_t count = static_cast<int64_t>(work.size());
#pragma omp parallel for schedule(dynamic) if (count > 1)
  for (int64_t i = 0; i < count; ++i) {
    try {
      work[static_cast<size_t>(i)]();
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

void LinearBackend::run(const float* x, int64_t rows, float* y, int64_t y_stride,
                        int64_t out) const {
  if (y_stride == out) return run(x, rows, y);
  thread_local std::vector<float> dense;
  dense.resize(static_cast<size_t>(rows * out));
  run(x, rows, dense.data());
  for (int64_t i = 0; i < rows; ++i) std::copy_n(dense.data() + i * out, out, y + i * y_stride);
}

namespace {

class F32Linear : public LinearBackend {
 public:
  F32Linear(const float* weight, const float* bias, int64_t out, int64_t in,
            kernels::Activation activation)
      : kernel_(weight, bias, out, in, activation) {}
  void run(const float* x, int64_t rows, float* y) const override { kernel_.run(x, rows, y); }

 private:
  kernels::PackedMatmulF32 kernel_;
};

// Kernel: AmxBf16x3Linear or Avx2F32Linear (both write strided rows).
template <typename Kernel>
class StridedLinear : public LinearBackend {
 public:
  StridedLinear(const float* weight, const float* bias, int64_t out, int64_t in,
                kernels::Activation activation)
      : kernel_(weight, bias, out, in, activation) {}
  void run(const float* x, int64_t rows, float* y) const override { kernel_.run(x, rows, y); }
  void run(const float* x, int64_t rows, float* y, int64_t y_stride, int64_t) const override {
    kernel_.run(x, rows, kernel_.in_features(), y, y_stride);
  }

 private:
  Kernel kernel_;
};

// quasr's AVX2 fp32 GEMM runs where quasr's ISA level is AVX2 (on AVX-512
// CPUs oneDNN's AVX-512 kernels are the faster).
bool avx2_f32_here() {
  return isa_level() == IsaLevel::kAvx2 && avx2_kernels_enabled() &&
         kernels::Avx2F32Linear::available();
}

// Kernel: PackedConv1dF32 (oneDNN) or GroupedConv1dF32 (the project's AVX-512
// kernel for grouped convs such as the positional conv, which oneDNN's grouped
// f32 conv runs 5-35 % slower); both take (shape, weight, bias, activation).
template <typename Kernel>
class F32Conv : public Conv1dBackend {
 public:
  F32Conv(const kernels::Conv1dShape& shape, const float* weight, const float* bias,
          kernels::Activation activation)
      : kernel_(shape, weight, bias, activation) {}
  void run(const float* x, int64_t t_in, float* y) const override { kernel_.run(x, t_in, y); }

 private:
  Kernel kernel_;
};

// nn.Conv1d weights [c_out, c_in, kernel] (one group) as [c_out, kernel, c_in]:
// the order of the values an output frame reads from time-major input.
std::vector<float> tap_major(const kernels::Conv1dShape& shape, const float* weight) {
  const int64_t c_in = shape.in_channels, taps = shape.kernel;
  std::vector<float> out(static_cast<size_t>(shape.out_channels * taps * c_in));
  for (int64_t o = 0; o < shape.out_channels; ++o)
    for (int64_t c = 0; c < c_in; ++c)
      for (int64_t j = 0; j < taps; ++j)
        out[(o * taps + j) * c_in + c] = weight[(o * c_in + c) * taps + j];
  return out;
}

// A conv as one product per group (Kernel: AmxBf16x3Linear or
// Avx2F32Linear, which take the same arguments) over overlapping rows of the
// time-major input: output frame t of group g reads kernel * cig contiguous
// values from row stride * t of that group's rows, so the weights go
// tap-major ([cog, kernel, cig]). With one group and no padding (the
// extractor's convs) those rows are the input itself and the product uses
// every thread; grouped stride-1 convs (the positional conv) copy the input
// group-major with its zero padding first and split the groups between the
// threads (each product then runs on its thread alone).
template <typename Kernel>
class MatmulConv : public Conv1dBackend {
 public:
  // The shape fits (whether the kernel runs on this CPU is the caller's test).
  static bool supports(const kernels::Conv1dShape& shape) {
    const bool in_place = shape.groups == 1 && shape.padding == 0;
    const bool grouped = shape.groups > 1 && shape.stride == 1 &&
                         shape.in_channels % shape.groups == 0 &&
                         shape.out_channels % shape.groups == 0;
    return (in_place || grouped) &&
           Kernel::supports(shape.out_channels / shape.groups,
                            shape.kernel * shape.in_channels / shape.groups);
  }
  MatmulConv(const kernels::Conv1dShape& shape, const float* weight, const float* bias,
             kernels::Activation activation)
      : shape_(shape) {
    const int64_t cig = shape.in_channels / shape.groups, cog = shape.out_channels / shape.groups;
    kernels::Conv1dShape group = shape;
    group.in_channels = cig;
    group.out_channels = cog;
    group.groups = 1;
    for (int64_t g = 0; g < shape.groups; ++g) {
      std::vector<float> w = tap_major(group, weight + g * cog * cig * shape.kernel);
      groups_.push_back(std::make_unique<Kernel>(w.data(), bias ? bias + g * cog : nullptr, cog,
                                                 shape.kernel * cig, activation));
    }
  }
  void run(const float* x, int64_t t_in, float* y) const override;
  // The in-place product keeps its packed rows per thread; the grouped path
  // shares one copy of the input between its threads.
  bool runs_concurrently() const override { return shape_.groups == 1 && shape_.padding == 0; }

 private:
  kernels::Conv1dShape shape_;
  std::vector<std::unique_ptr<Kernel>> groups_;
};

template <typename Kernel>
void MatmulConv<Kernel>::run(const float* x, int64_t t_in, float* y) const {
  const kernels::Conv1dShape& s = shape_;
  const int64_t t_out = s.output_length(t_in);
  if (s.groups == 1 && s.padding == 0)
    return groups_[0]->run(x, t_out, s.stride * s.in_channels, y, s.out_channels);
  const int64_t cig = s.in_channels / s.groups, cog = s.out_channels / s.groups;
  const int64_t rows = t_in + 2 * s.padding;
  thread_local std::vector<float> by_group;
  float* grouped = grow(by_group, s.groups * rows * cig);
#pragma omp parallel
  {
    kernels::copy_group_major(x, t_in, s.groups, cig, s.padding, rows, grouped);
#pragma omp for schedule(static)
    for (int64_t g = 0; g < s.groups; ++g)
      groups_[static_cast<size_t>(g)]->run(grouped + g * rows * cig, t_out, cig, y + g * cog,
                                           s.out_channels);
  }
}

// The waveform conv (one input channel) runs on a direct kernel; oneDNN's
// conv kernels are slow at depth 10.
class F32SingleChannelConv : public Conv1dBackend {
 public:
  F32SingleChannelConv(const kernels::Conv1dShape& shape, const float* weight, const float* bias,
                       kernels::Activation activation)
      : kernel_(shape.out_channels, shape.kernel, shape.stride, weight, nullptr, bias, activation) {
  }
  void run(const float* x, int64_t t_in, float* y) const override { kernel_.run(x, t_in, y); }
  bool run_handing_rows(const float* x, int64_t t_in, float* y,
                        kernels::RowSink row_done) const override {
    kernel_.run(x, t_in, y, row_done);
    return true;
  }
  bool runs_concurrently() const override { return true; }

 private:
  kernels::SingleChannelConv1d kernel_;
};

}  // namespace

std::unique_ptr<LinearBackend> make_f32_linear(const float* weight, const float* bias, int64_t out,
                                               int64_t in, kernels::Activation activation,
                                               Fp32Matmul how) {
  if (how == Fp32Matmul::kBf16x3 && kernels::AmxBf16x3Linear::available() &&
      kernels::AmxBf16x3Linear::supports(out, in))
    return std::make_unique<StridedLinear<kernels::AmxBf16x3Linear>>(weight, bias, out, in,
                                                                     activation);
  if (avx2_f32_here() && kernels::Avx2F32Linear::supports(out, in))
    return std::make_unique<StridedLinear<kernels::Avx2F32Linear>>(weight, bias, out, in,
                                                                   activation);
  return std::make_unique<F32Linear>(weight, bias, out, in, activation);
}

std::unique_ptr<Conv1dBackend> make_f32_conv(const kernels::Conv1dShape& shape, const float* weight,
                                             const float* bias, kernels::Activation activation,
                                             Fp32Matmul how) {
  if (shape.in_channels == 1 && shape.groups == 1 && shape.padding == 0)
    return std::make_unique<F32SingleChannelConv>(shape, weight, bias, activation);
  if (how == Fp32Matmul::kBf16x3 && kernels::AmxBf16x3Linear::available() &&
      MatmulConv<kernels::AmxBf16x3Linear>::supports(shape))
    return std::make_unique<MatmulConv<kernels::AmxBf16x3Linear>>(shape, weight, bias, activation);
  // Ungrouped only: the positional conv's groups ran slower on it than on
  // GroupedConv1dF32 (large fp32: 0.36-0.46 s against 0.31 s).
  if (avx2_f32_here() && shape.groups == 1 && MatmulConv<kernels::Avx2F32Linear>::supports(shape))
    return std::make_unique<MatmulConv<kernels::Avx2F32Linear>>(shape, weight, bias, activation);
  if (shape.groups > 1 && kernels::GroupedConv1dF32::supports(shape))
    return std::make_unique<F32Conv<kernels::GroupedConv1dF32>>(shape, weight, bias, activation);
  return std::make_unique<F32Conv<kernels::PackedConv1dF32>>(shape, weight, bias, activation);
}

Linear::Linear(const BuildContext& ctx, const std::string& path, int64_t in, int64_t out, bool bias,
               kernels::Activation activation)
    : Linear(ctx, path, in, out, bias, activation, nullptr) {}

Linear::Linear(const BuildContext& ctx, const std::string& path, int64_t in, int64_t out, bool bias,
               kernels::Activation activation, LinearSource* source)
    : leaf_(std::make_unique<LinearLeaf>(ctx.name(path), "Linear", Shape{out, in}, activation)) {
  std::vector<ParamInfo> params{{"weight", {out, in}}};
  if (bias) params.push_back({"bias", {out}});
  LinearSource read;
  read.spec = ctx.quantized(path);
  // The weight is read (and shape-checked) before the bias: its error is the clearer one.
  if (read.spec) {
    read.quantized = read_quantized_weights(ctx, path, {out, in}, *read.spec);
    params[0].dtype = "I8";
  } else {
    read.weight = ctx.read(path + ".weight", {out, in});
  }
  if (bias) read.bias = ctx.read(path + ".bias", {out});
  const std::string scheme = read.spec ? read.spec->scheme : "fp32";
  if (source) {
    *source = std::move(read);
  } else {
    install_backend(ctx, std::move(read));
  }
  ctx.register_leaf(leaf_.get());
  ctx.record(path, "Linear", std::move(params), scheme);
}

const kernels::DynamicInt8Linear* Linear::per_row_dynamic_int8() const {
  if (leaf_->observed() || !leaf_->backend()) return nullptr;
  return leaf_->backend()->per_row_dynamic_int8();
}

void Linear::install_backend(const BuildContext& ctx, LinearSource source) {
  const kernels::Activation activation = leaf_->activation();
  if (source.spec) {
    // Packing happens later, in parallel with the other leaves.
    ctx.defer([leaf = leaf_.get(), spec = *source.spec, weights = std::move(source.quantized),
               bias = std::move(source.bias), activation] {
      leaf->set_backend(
          make_quantized_linear(spec, weights, bias.empty() ? nullptr : bias.data(), activation),
          spec.scheme);
    });
    return;
  }
  leaf_->set_backend(
      make_f32_linear(source.weight.data(), source.bias.empty() ? nullptr : source.bias.data(),
                      leaf_->out_features(), leaf_->in_features(), activation, ctx.fp32_matmul()),
      "fp32");
  if (ctx.keep_source_weights())
    leaf_->set_source(std::move(source.weight), std::move(source.bias));
}

const kernels::StaticInt8Conv1d* Conv1d::static_int8() const {
  if (leaf_->observed() || !leaf_->backend()) return nullptr;
  return leaf_->backend()->static_int8();
}

bool Conv1d::runs_concurrently() const {
  return !leaf_->observed() && leaf_->backend() && leaf_->backend()->runs_concurrently();
}

Conv1d::Conv1d(const BuildContext& ctx, const std::string& path, const kernels::Conv1dShape& shape,
               std::vector<float> weight, std::vector<float> bias, kernels::Activation activation) {
  Shape weight_shape{shape.out_channels, shape.in_channels / shape.groups, shape.kernel};
  leaf_ = std::make_unique<Conv1dLeaf>(ctx.name(path), shape, weight_shape, activation);
  std::vector<ParamInfo> params{{"weight", weight_shape}};
  if (!bias.empty()) params.push_back({"bias", {shape.out_channels}});
  const float* bias_data = bias.empty() ? nullptr : bias.data();
  const LeafQuantSpec* spec = ctx.quantized(path);
  if (spec) {
    QuantizedWeights weights = read_quantized_weights(ctx, path, weight_shape, *spec);
    ctx.defer(
        [leaf = leaf_.get(), spec = *spec, shape, weights = std::move(weights), bias, activation] {
          leaf->set_backend(make_quantized_conv(spec, shape, weights,
                                                bias.empty() ? nullptr : bias.data(), activation),
                            spec.scheme);
        });
    params[0].dtype = "I8";
  } else {
    leaf_->set_backend(
        make_f32_conv(shape, weight.data(), bias_data, activation, ctx.fp32_matmul()), "fp32");
    if (ctx.keep_source_weights()) leaf_->set_source(std::move(weight), std::move(bias));
  }
  ctx.register_leaf(leaf_.get());
  ctx.record(path, "Conv1d", std::move(params), spec ? spec->scheme : leaf_->scheme());
}

LayerNorm::LayerNorm(const BuildContext& ctx, const std::string& path, int64_t size, float eps)
    : weight_(ctx.read(path + ".weight", {size})),
      bias_(ctx.read(path + ".bias", {size})),
      eps_(eps) {
  ctx.record(path, "LayerNorm", {{"weight", {size}}, {"bias", {size}}});
}

void LayerNorm::forward(const float* x, int64_t rows, float* y) const {
  kernels::layer_norm_rows(x, rows, static_cast<int64_t>(weight_.size()), weight_.data(),
                           bias_.data(), eps_, y);
}

void LayerNorm::forward_row(const float* x, float* y) const {
  kernels::layer_norm_row(x, static_cast<int64_t>(weight_.size()), weight_.data(), bias_.data(),
                          eps_, y);
}

void LayerNorm::add_then_forward_row(float* x, const float* residual, float* y) const {
  kernels::add_layer_norm_row(x, residual, static_cast<int64_t>(weight_.size()), weight_.data(),
                              bias_.data(), eps_, y);
}

void LayerNorm::add_then_forward(float* x, const float* residual, int64_t rows, float* y) const {
  kernels::add_layer_norm_rows(x, residual, rows, static_cast<int64_t>(weight_.size()),
                               weight_.data(), bias_.data(), eps_, y);
}

}  // namespace quasr::model
