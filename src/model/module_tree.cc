#include "model/module_tree.h"

#include "core/error.h"
#include "kernels/elementwise.h"

namespace quasr::model {

int64_t ModuleInfo::parameter_count() const {
  int64_t count = 0;
  for (const ParamInfo& param : params) count += shape_numel(param.shape);
  return count;
}

std::vector<float> BuildContext::read(const std::string& key, const Shape& shape) const {
  return dict_.get_f32(key_prefix_ + key, shape);
}

bool BuildContext::has(const std::string& key) const {
  return dict_.contains(key_prefix_ + key);
}

void BuildContext::record(const std::string& path, const std::string& type,
                          std::vector<ParamInfo> params, const std::string& scheme) const {
  if (tree_) tree_->push_back(ModuleInfo{name(path), type, std::move(params), scheme});
}

Linear::Linear(const BuildContext& ctx, const std::string& path, int64_t in, int64_t out, bool bias,
               kernels::Activation activation)
    : name_(ctx.name(path)) {
  std::vector<float> weight = ctx.read(path + ".weight", {out, in});
  std::vector<float> bias_values;
  std::vector<ParamInfo> params{{"weight", {out, in}}};
  if (bias) {
    bias_values = ctx.read(path + ".bias", {out});
    params.push_back({"bias", {out}});
  }
  kernel_ = std::make_unique<kernels::PackedMatmulF32>(
      weight.data(), bias ? bias_values.data() : nullptr, out, in, activation);
  ctx.record(path, "Linear", std::move(params));
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

}  // namespace quasr::model
