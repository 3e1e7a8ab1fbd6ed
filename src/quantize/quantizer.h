// Post-training quantization of a loaded model: resolve the recipe, calibrate
// static leaves, convert, measure what it cost, write a quasr model folder.
//
//   1. fp32 pass over the calibration audio: observers on the inputs of
//      static leaves; fp32 log-probs kept as the reference.
//   2. convert: weights to int8 (per output channel by default); static
//      leaves get their fixed input scale from their observer.
//   3. int8 pass over the same audio: per-module SQNR (each quantized
//      module's output vs its fp32 output on the same input) and whole-model
//      max |Δ log-prob|, mean per-frame KL(fp32‖int8), argmax agreement.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/asr_model.h"
#include "model/quasr_folder.h"
#include "quantize/recipe.h"

namespace quasr::quantize {

struct ModuleQuality {
  std::string name;
  std::string scheme;
  double sqnr_db = 0.0;
};

struct ModelQuality {
  double max_abs_logprob_diff = 0.0;
  double mean_kl = 0.0;  // mean over frames of KL(fp32 ‖ int8), nats
  double argmax_agreement = 0.0;
  int64_t frames = 0;
  std::vector<ModuleQuality> modules;
};

struct QuantizeResult {
  std::map<std::string, model::QuantizedLeaf> leaves;
  ModelQuality quality;
  nlohmann::json quantization;  // config.json's "quantization" section
};

using Progress = std::function<void(const std::string& stage, size_t done, size_t total)>;

// `model` must be loaded with keep_source_weights. Quantizes it in place.
// `calibration` is 16 kHz audio; required when the recipe has static rules.
QuantizeResult quantize_model(model::AsrModel& model, const Recipe& recipe,
                              const std::vector<std::vector<float>>& calibration,
                              const Progress& progress = {});

// Compares [frames, vocab] log-probs of the same utterances.
void accumulate_logprob_agreement(const Tensor& reference, const Tensor& candidate,
                                  ModelQuality* quality, double* kl_sum, int64_t* agree);

std::string quality_report_text(const ModelQuality& quality);

}  // namespace quasr::quantize
