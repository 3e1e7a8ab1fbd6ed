// The named module tree users see in PyTorch, and the fp32 leaves it is built from.
//
// Names are the ones PyTorch prints for the same checkpoint
// (`encoder.wav2vec2.model.encoder.layers.3.attention.q_proj` for SpeechBrain,
// `wav2vec2.encoder.layers.3.attention.q_proj` / `lm_head` for Hugging Face):
// quantization recipes address modules by these names.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/raw_tensor.h"
#include "kernels/packed_conv1d.h"
#include "kernels/packed_matmul.h"
#include "kernels/row_sink.h"

namespace quasr::kernels {
class DynamicInt8Linear;
class StaticInt8Conv1d;
}  // namespace quasr::kernels

namespace quasr::model {

struct ParamInfo {
  std::string name;  // relative to the module, e.g. "weight"
  Shape shape;
  std::string dtype = "F32";
};

struct ModuleInfo {
  std::string name;
  std::string type;  // PyTorch class name: Linear, Conv1d, LayerNorm, ...
  std::vector<ParamInfo> params;
  std::string scheme = "fp32";  // quantization state
  int64_t parameter_count() const;
};

// How one Linear/Conv1d leaf is quantized, as stored in a quasr model folder.
struct LeafQuantSpec {
  std::string scheme;               // "dynamic_int8" | "static_int8"
  bool per_channel_weights = true;  // else one scale for the whole weight
  bool per_row_activations = true;  // dynamic only: else one scale per call
  float input_scale = 0.0f;         // static only
  int32_t input_zero_point = 0;     // static only
  bool operator==(const LeafQuantSpec&) const = default;
};

class Leaf;

// How fp32 Linear leaves multiply: oneDNN's fp32 GEMM, or bf16x3 on AMX
// (kernels/amx_bf16x3_linear.h: 16 of fp32's 24 mantissa bits per operand,
// several times faster). LoadOptions::fp32_matmul picks one.
enum class Fp32Matmul { kExact, kBf16x3 };

// What a model build collects: the module tree users see, the quantizable
// leaves, and (for quantize) whether leaves keep their fp32 source weights.
struct ModelBuild {
  std::vector<ModuleInfo> modules;
  std::vector<Leaf*> leaves;
  bool keep_source_weights = false;
  Fp32Matmul fp32_matmul = Fp32Matmul::kExact;
  // Leaves stored quantized in a quasr model folder, by module name.
  std::map<std::string, LeafQuantSpec> quantized;
  // Backends of quantized leaves, built (weights packed) after the whole
  // model is read and in parallel by run_deferred(), which the loader calls
  // while the weight file is still mapped (the AsrModel constructor checks).
  std::vector<std::function<void()>> deferred;
  void run_deferred();
};

// Reads fp32 parameters of one checkpoint file under a key prefix and records
// every module it builds, under the user-visible name prefix.
class BuildContext {
 public:
  BuildContext(const StateDict& dict, std::string key_prefix, std::string name_prefix,
               ModelBuild* build)
      : dict_(dict),
        key_prefix_(std::move(key_prefix)),
        name_prefix_(std::move(name_prefix)),
        build_(build) {}

  // Throws quasr::Error naming the file, tensor, expected and actual shape.
  std::vector<float> read(const std::string& key, const Shape& shape) const;
  // A tensor as stored (any dtype), for int8 weights of quantized folders.
  const RawTensor& raw(const std::string& key, const Shape& shape, DType dtype) const;
  bool has(const std::string& key) const;
  std::string name(const std::string& path) const { return name_prefix_ + path; }
  void record(const std::string& path, const std::string& type, std::vector<ParamInfo> params,
              const std::string& scheme = "fp32") const;
  void register_leaf(Leaf* leaf) const;
  bool keep_source_weights() const { return build_ && build_->keep_source_weights; }
  Fp32Matmul fp32_matmul() const { return build_ ? build_->fp32_matmul : Fp32Matmul::kExact; }
  const LeafQuantSpec* quantized(const std::string& path) const;
  // Queues work for ModelBuild::run_deferred (runs it now without a build).
  void defer(std::function<void()> work) const;

 private:
  const StateDict& dict_;
  std::string key_prefix_;
  std::string name_prefix_;
  ModelBuild* build_;
};

// The compute behind a Linear leaf: y[rows, out] = act(x[rows, in] · Wᵀ + b).
class LinearBackend {
 public:
  virtual ~LinearBackend() = default;
  virtual void run(const float* x, int64_t rows, float* y) const = 0;
  // Output rows y_stride floats apart (>= out), so several linears can write
  // column slices of one buffer (LinearGroup when it cannot fuse them). Goes
  // through a per-thread buffer: oneDNN's int8 matmul allocates per call for
  // some strided outputs, and this path is not the hot one.
  virtual void run(const float* x, int64_t rows, float* y, int64_t y_stride, int64_t out) const;
  // The kernel, where it is a dynamic int8 linear with per-row activations
  // (which can take rows quantized by their producer); else null.
  virtual const kernels::DynamicInt8Linear* per_row_dynamic_int8() const { return nullptr; }
};

// The compute behind a Conv1d leaf, time-major: x [t_in, c_in] → y [t_out, c_out].
class Conv1dBackend {
 public:
  virtual ~Conv1dBackend() = default;
  virtual void run(const float* x, int64_t t_in, float* y) const = 0;
  // run() handing each finished output frame to row_done while it is in
  // cache; false where the kernel cannot (nothing ran then).
  virtual bool run_handing_rows(const float* /*x*/, int64_t /*t_in*/, float* /*y*/,
                                kernels::RowSink /*row_done*/) const {
    return false;
  }
  // The kernel, where it is static int8; else null.
  virtual const kernels::StaticInt8Conv1d* static_int8() const { return nullptr; }
  // Whether run() may be called from several threads at once inside one
  // parallel region: no oneDNN primitive (oneDNN's shared scratchpad wants
  // each primitive run on the thread that created it), no shared cache.
  virtual bool runs_concurrently() const { return false; }
};

using InputObserver = std::function<void(const float* x, int64_t count)>;

// A Linear or Conv1d module: the unit a quantization recipe addresses. Lives
// on the heap (owned through Linear/Conv1d handles) so its address is stable.
class Leaf {
 public:
  Leaf(std::string name, std::string type, Shape weight_shape, kernels::Activation activation)
      : name_(std::move(name)),
        type_(std::move(type)),
        weight_shape_(std::move(weight_shape)),
        activation_(activation) {}
  virtual ~Leaf() = default;

  const std::string& name() const { return name_; }
  const std::string& type() const { return type_; }  // "Linear" or "Conv1d"
  const Shape& weight_shape() const { return weight_shape_; }
  kernels::Activation activation() const { return activation_; }
  const std::string& scheme() const { return scheme_; }
  // fp32 weights in PyTorch layout; empty unless built with keep_source_weights.
  const std::vector<float>& source_weight() const { return source_weight_; }
  const std::vector<float>& source_bias() const { return source_bias_; }
  void set_source(std::vector<float> weight, std::vector<float> bias) {
    source_weight_ = std::move(weight);
    source_bias_ = std::move(bias);
  }
  // Called with every input this leaf sees (calibration); empty to stop.
  void set_input_observer(InputObserver observer) { observer_ = std::move(observer); }
  bool observed() const { return static_cast<bool>(observer_); }

 protected:
  void observe(const float* x, int64_t count) const {
    if (observer_) observer_(x, count);
  }
  std::string name_;
  std::string type_;
  Shape weight_shape_;
  kernels::Activation activation_;
  std::string scheme_ = "fp32";
  std::vector<float> source_weight_;
  std::vector<float> source_bias_;
  InputObserver observer_;
};

class LinearLeaf : public Leaf {
 public:
  using Leaf::Leaf;
  void forward(const float* x, int64_t rows, float* y) const {
    observe(x, rows * weight_shape_[1]);
    backend_->run(x, rows, y);
  }
  void forward(const float* x, int64_t rows, float* y, int64_t y_stride) const {
    observe(x, rows * weight_shape_[1]);
    backend_->run(x, rows, y, y_stride, weight_shape_[0]);
  }
  const LinearBackend* backend() const { return backend_.get(); }
  void set_backend(std::unique_ptr<LinearBackend> backend, std::string scheme) {
    backend_ = std::move(backend);
    scheme_ = std::move(scheme);
  }
  std::unique_ptr<LinearBackend> take_backend() { return std::move(backend_); }
  int64_t in_features() const { return weight_shape_[1]; }
  int64_t out_features() const { return weight_shape_[0]; }

 private:
  friend class Linear;
  std::unique_ptr<LinearBackend> backend_;
};

class Conv1dLeaf : public Leaf {
 public:
  Conv1dLeaf(std::string name, const kernels::Conv1dShape& shape, Shape weight_shape,
             kernels::Activation activation)
      : Leaf(std::move(name), "Conv1d", std::move(weight_shape), activation), shape_(shape) {}
  void forward(const float* x, int64_t t_in, float* y, kernels::RowSink row_done = {}) const {
    observe(x, t_in * shape_.in_channels);
    if (row_done && backend_->run_handing_rows(x, t_in, y, row_done)) return;
    backend_->run(x, t_in, y);
    kernels::hand_rows(row_done, y, shape_.output_length(t_in), shape_.out_channels);
  }
  void set_backend(std::unique_ptr<Conv1dBackend> backend, std::string scheme) {
    backend_ = std::move(backend);
    scheme_ = std::move(scheme);
  }
  std::unique_ptr<Conv1dBackend> take_backend() { return std::move(backend_); }
  const Conv1dBackend* backend() const { return backend_.get(); }
  const kernels::Conv1dShape& shape() const { return shape_; }

 private:
  friend class Conv1d;
  kernels::Conv1dShape shape_;
  std::unique_ptr<Conv1dBackend> backend_;
};

// Int8 weights as stored: [out, in...] row-major int8 and one scale per output
// channel (or one in total). `data` points into the model file's mapping.
struct QuantizedWeights {
  const int8_t* data = nullptr;
  Shape shape;
  std::vector<float> scales;
};

// What a Linear reads from its checkpoint, before any backend is built.
struct LinearSource {
  std::vector<float> weight;            // fp32 leaves
  QuantizedWeights quantized;           // quantized leaves
  const LeafQuantSpec* spec = nullptr;  // set for quantized leaves
  std::vector<float> bias;              // empty without bias
};

// nn.Linear with an optional fused GELU. A movable handle to its leaf.
class Linear {
 public:
  Linear(const BuildContext& ctx, const std::string& path, int64_t in, int64_t out, bool bias,
         kernels::Activation activation = kernels::Activation::kNone);
  // Reads and records the leaf but builds no backend: its weights go to
  // `source`, for LinearGroup (which fuses them or calls install_backend).
  Linear(const BuildContext& ctx, const std::string& path, int64_t in, int64_t out, bool bias,
         kernels::Activation activation, LinearSource* source);
  // Builds the leaf's own backend from what the constructor above read.
  void install_backend(const BuildContext& ctx, LinearSource source);
  void forward(const float* x, int64_t rows, float* y) const { leaf_->forward(x, rows, y); }
  void forward(const float* x, int64_t rows, float* y, int64_t y_stride) const {
    leaf_->forward(x, rows, y, y_stride);
  }
  LinearLeaf* leaf() const { return leaf_.get(); }
  // Null unless the backend is dynamic int8 with per-row activations and no
  // calibration observer watches the input.
  const kernels::DynamicInt8Linear* per_row_dynamic_int8() const;
  int64_t in_features() const { return leaf_->in_features(); }
  int64_t out_features() const { return leaf_->out_features(); }
  const std::string& name() const { return leaf_->name(); }

 private:
  std::unique_ptr<LinearLeaf> leaf_;
};

// nn.Conv1d (time-major), weights given in PyTorch layout. A movable handle.
class Conv1d {
 public:
  // `weight`/`bias` are already read (the positional conv derives its weight).
  Conv1d(const BuildContext& ctx, const std::string& path, const kernels::Conv1dShape& shape,
         std::vector<float> weight, std::vector<float> bias, kernels::Activation activation);
  void forward(const float* x, int64_t t_in, float* y, kernels::RowSink row_done = {}) const {
    leaf_->forward(x, t_in, y, row_done);
  }
  const kernels::Conv1dShape& shape() const { return leaf_->shape(); }
  // Null unless the backend is static int8 and no calibration observer
  // watches the input.
  const kernels::StaticInt8Conv1d* static_int8() const;
  // Whether forward may run on several threads at once (see
  // Conv1dBackend::runs_concurrently); never while an observer watches.
  bool runs_concurrently() const;

 private:
  std::unique_ptr<Conv1dLeaf> leaf_;
};

// Backends for the fp32 path (pre-packed oneDNN; linears and convs on AMX
// bf16x3 where `how` says so and the shape allows). Quantized backends live in
// model/quantized_backends.h.
std::unique_ptr<LinearBackend> make_f32_linear(const float* weight, const float* bias, int64_t out,
                                               int64_t in, kernels::Activation activation,
                                               Fp32Matmul how = Fp32Matmul::kExact);
std::unique_ptr<Conv1dBackend> make_f32_conv(const kernels::Conv1dShape& shape, const float* weight,
                                             const float* bias, kernels::Activation activation,
                                             Fp32Matmul how = Fp32Matmul::kExact);

// nn.LayerNorm over the last axis.
class LayerNorm {
 public:
  LayerNorm(const BuildContext& ctx, const std::string& path, int64_t size, float eps);
  void forward(const float* x, int64_t rows, float* y) const;
  // x += residual, then y = LayerNorm(x), in one pass over the rows.
  void add_then_forward(float* x, const float* residual, int64_t rows, float* y) const;
  // The two above for one row, inside a caller's parallel loop.
  void forward_row(const float* x, float* y) const;
  void add_then_forward_row(float* x, const float* residual, float* y) const;

 private:
  std::vector<float> weight_;
  std::vector<float> bias_;
  float eps_;
};

}  // namespace quasr::model
