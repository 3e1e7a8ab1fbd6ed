// The named module tree users see in PyTorch, and the fp32 leaves it is built from.
//
// Names are the ones PyTorch prints for the same checkpoint
// (`encoder.wav2vec2.model.encoder.layers.3.attention.q_proj` for SpeechBrain,
// `wav2vec2.encoder.layers.3.attention.q_proj` / `lm_head` for Hugging Face):
// quantization recipes address modules by these names.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/raw_tensor.h"
#include "kernels/packed_conv1d.h"
#include "kernels/packed_matmul.h"

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

// Reads fp32 parameters of one checkpoint file under a key prefix and records
// every module it builds, under the user-visible name prefix.
class BuildContext {
 public:
  BuildContext(const StateDict& dict, std::string key_prefix, std::string name_prefix,
               std::vector<ModuleInfo>* tree)
      : dict_(dict),
        key_prefix_(std::move(key_prefix)),
        name_prefix_(std::move(name_prefix)),
        tree_(tree) {}

  // Throws quasr::Error naming the file, tensor, expected and actual shape.
  std::vector<float> read(const std::string& key, const Shape& shape) const;
  bool has(const std::string& key) const;
  std::string name(const std::string& path) const { return name_prefix_ + path; }
  void record(const std::string& path, const std::string& type, std::vector<ParamInfo> params,
              const std::string& scheme = "fp32") const;

 private:
  const StateDict& dict_;
  std::string key_prefix_;
  std::string name_prefix_;
  std::vector<ModuleInfo>* tree_;
};

// nn.Linear: y = x Wᵀ + b on pre-packed weights, with an optional fused GELU.
class Linear {
 public:
  Linear(const BuildContext& ctx, const std::string& path, int64_t in, int64_t out, bool bias,
         kernels::Activation activation = kernels::Activation::kNone);
  void forward(const float* x, int64_t rows, float* y) const { kernel_->run(x, rows, y); }
  int64_t in_features() const { return kernel_->in_features(); }
  int64_t out_features() const { return kernel_->out_features(); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::unique_ptr<kernels::PackedMatmulF32> kernel_;
};

// nn.LayerNorm over the last axis.
class LayerNorm {
 public:
  LayerNorm(const BuildContext& ctx, const std::string& path, int64_t size, float eps);
  void forward(const float* x, int64_t rows, float* y) const;

 private:
  std::vector<float> weight_;
  std::vector<float> bias_;
  float eps_;
};

}  // namespace quasr::model
