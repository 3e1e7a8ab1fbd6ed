// quasr model folders: what `quasr quantize` writes and every command loads.
//
//   model.safetensors  all tensors under their module names; quantized leaves
//                      as `<name>.weight` (I8) + `<name>.weight_scale` (F32),
//                      everything else as in the source checkpoint
//   config.json        {"quasr_format": 1, architecture, head, normalisation,
//                       tokenizer, "quantization": {recipe, modules, report}}
//   tokenizer files    vocab.json (+ configs) or tokenizer.ckpt, copied
//
// Any safetensors reader can open the weights; quasr maps the file.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/asr_model.h"

namespace quasr::model {

constexpr int kQuasrFormatVersion = 1;

struct QuantizedLeaf {
  LeafQuantSpec spec;
  Shape shape;
  std::vector<int8_t> data;
  std::vector<float> scales;
};

// Writes `model` (loaded with keep_source_weights) with the given leaves
// replaced by their int8 form. `quantization` becomes config.json's
// "quantization" section. The folder appears atomically (written beside it,
// then renamed); an existing `directory` is an error.
void save_quasr_folder(const AsrModel& model, const std::map<std::string, QuantizedLeaf>& leaves,
                       const nlohmann::json& quantization, const std::string& directory);

nlohmann::json leaf_spec_to_json(const LeafQuantSpec& spec);

// The config.json of a quasr folder (throws quasr::Error on a malformed one).
nlohmann::json read_quasr_config(const std::string& directory);

}  // namespace quasr::model
