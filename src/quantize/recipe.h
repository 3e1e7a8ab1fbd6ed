// Quantization recipes: rules over module names, as the SpeechBrain tutorial
// writes them (`dynamic_modules = ["encoder.wav2vec2.model.encoder.layers",
// "encoder.enc"]`), resolved against the model's Linear/Conv1d leaves.
//
// A rule's pattern matches a leaf when it is the leaf's name, a dotted prefix
// of it, or a glob (`*`, `?`, `[...]`) over the whole name. When several rules
// match, the most specific wins: exact name, then the longest prefix, then the
// glob with the most literal characters; among equals the later rule wins.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/asr_model.h"

namespace quasr::quantize {

enum class Scheme { kFp32, kDynamic, kStatic };

const char* scheme_name(Scheme scheme);  // "fp32", "dynamic_int8", "static_int8"

struct RuleOptions {
  bool per_channel_weights = true;
  bool per_row_activations = true;  // dynamic only
  std::string observer = "minmax";  // static only: see quant/observers.h
  double percentile = 99.99;
};

struct Rule {
  std::string pattern;
  Scheme scheme = Scheme::kFp32;
  RuleOptions options;
  std::string origin;  // where the rule came from, for errors: "--dynamic", "recipe.yaml:3"
};

struct Recipe {
  std::vector<Rule> rules;
  std::string description;  // e.g. "preset tutorial"
};

// Built-in recipes: "tutorial" (the SpeechBrain tutorial's lists; ctc_lin fp32),
// "int8-all" (every Linear dynamic per row, the feature extractor's Conv1d
// static (the grouped positional conv included) except the waveform conv, which
// stays fp32),
// "dynamic" (every Linear dynamic). Throws quasr::Error for other names.
Recipe preset_recipe(const std::string& name, const model::AsrModel& model);

// A YAML or JSON recipe file: a list of rules, or {rules: [...]}; each rule
// {module|modules: NAME(s), scheme: dynamic|static|fp32, weights: per_channel|
// per_tensor, activations: per_row|per_tensor, observer: ..., percentile: ...}.
Recipe read_recipe_file(const std::string& path);

struct LeafPlan {
  model::Leaf* leaf = nullptr;
  Scheme scheme = Scheme::kFp32;
  RuleOptions options;
  const Rule* rule = nullptr;  // null: no rule matched (stays fp32)
};

// Resolves every leaf. Throws quasr::Error when a rule matches no Linear/Conv1d
// leaf (listing the closest module names), or a leaf cannot take the scheme.
std::vector<LeafPlan> resolve_recipe(const Recipe& recipe, const model::AsrModel& model);

nlohmann::json recipe_to_json(const Recipe& recipe);

}  // namespace quasr::quantize
