// Int8 backends for Linear and Conv1d leaves, built either from fp32 weights
// (quantize) or from int8 weights stored in a quasr model folder (load).
#pragma once

#include <memory>
#include <vector>

#include "model/module_tree.h"

namespace quasr::model {

// Reads `<path>.weight` (I8) and `<path>.weight_scale` (F32) of a quasr folder.
QuantizedWeights read_quantized_weights(const BuildContext& ctx, const std::string& path,
                                        const Shape& shape, const LeafQuantSpec& spec);

std::unique_ptr<LinearBackend> make_quantized_linear(const LeafQuantSpec& spec,
                                                     const QuantizedWeights& weights,
                                                     const float* bias,
                                                     kernels::Activation activation);
std::unique_ptr<Conv1dBackend> make_quantized_conv(const LeafQuantSpec& spec,
                                                   const kernels::Conv1dShape& shape,
                                                   const QuantizedWeights& weights,
                                                   const float* bias,
                                                   kernels::Activation activation);

}  // namespace quasr::model
