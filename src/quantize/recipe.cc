#include "quantize/recipe.h"

#include <fnmatch.h>

#include <algorithm>
#include <fstream>

#include <yaml-cpp/yaml.h>

#include "core/error.h"

namespace quasr::quantize {

const char* scheme_name(Scheme scheme) {
  switch (scheme) {
    case Scheme::kFp32:
      return "fp32";
    case Scheme::kDynamic:
      return "dynamic_int8";
    case Scheme::kStatic:
      return "static_int8";
  }
  return "fp32";
}

namespace {

bool is_glob(const std::string& pattern) {
  return pattern.find_first_of("*?[") != std::string::npos;
}

// 0 = no match; higher = more specific.
int64_t match_specificity(const std::string& pattern, const std::string& name) {
  if (pattern == name) return 3'000'000 + static_cast<int64_t>(pattern.size());
  if (is_glob(pattern)) {
    if (fnmatch(pattern.c_str(), name.c_str(), 0) != 0) return 0;
    int64_t literals =
        std::count_if(pattern.begin(), pattern.end(), [](char c) { return c != '*' && c != '?'; });
    return 1'000'000 + literals;
  }
  if (name.size() > pattern.size() && name.compare(0, pattern.size(), pattern) == 0 &&
      name[pattern.size()] == '.')
    return 2'000'000 + static_cast<int64_t>(pattern.size());
  return 0;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest_names(const std::string& pattern, const model::AsrModel& model) {
  std::vector<std::pair<size_t, std::string>> scored;
  for (const model::ModuleInfo& module : model.modules())
    scored.emplace_back(edit_distance(pattern, module.name), module.name);
  std::sort(scored.begin(), scored.end());
  std::string list;
  for (size_t i = 0; i < std::min<size_t>(3, scored.size()); ++i)
    list += (i ? ", " : "") + scored[i].second;
  return list;
}

// A rule that names a module which exists but is no Linear/Conv1d (a LayerNorm,
// a BatchNorm) deserves its own explanation.
const model::ModuleInfo* non_leaf_module(const std::string& pattern, const model::AsrModel& model) {
  for (const model::ModuleInfo& module : model.modules())
    if (module.name == pattern && module.type != "Linear" && module.type != "Conv1d")
      return &module;
  return nullptr;
}

void check_scheme_fits(const LeafPlan& plan) {
  if (plan.scheme == Scheme::kDynamic && plan.leaf->type() == "Conv1d")
    throw Error(plan.rule->origin + " " + plan.rule->pattern + ": module " + plan.leaf->name() +
                " is a Conv1d, which takes static int8 only (its activation scale must be fixed "
                "by calibration); use --static for it");
}

}  // namespace

std::vector<LeafPlan> resolve_recipe(const Recipe& recipe, const model::AsrModel& model) {
  std::vector<LeafPlan> plans;
  std::vector<bool> rule_used(recipe.rules.size(), false);
  for (model::Leaf* leaf : model.leaves()) {
    LeafPlan plan;
    plan.leaf = leaf;
    int64_t best = 0;
    for (size_t r = 0; r < recipe.rules.size(); ++r) {
      int64_t score = match_specificity(recipe.rules[r].pattern, leaf->name());
      if (score == 0) continue;
      rule_used[r] = true;
      if (score >= best) {
        best = score;
        plan.rule = &recipe.rules[r];
      }
    }
    if (plan.rule) {
      plan.scheme = plan.rule->scheme;
      plan.options = plan.rule->options;
      check_scheme_fits(plan);
    }
    plans.push_back(plan);
  }
  for (size_t r = 0; r < recipe.rules.size(); ++r) {
    if (rule_used[r]) continue;
    const Rule& rule = recipe.rules[r];
    if (const model::ModuleInfo* module = non_leaf_module(rule.pattern, model))
      throw Error(rule.origin + " " + rule.pattern + ": module is a " + module->type +
                  ", which has no int8 kernel (rules apply to Linear and Conv1d modules)");
    throw Error(rule.origin + " " + rule.pattern +
                ": matches no Linear or Conv1d module; closest names: " +
                closest_names(rule.pattern, model));
  }
  return plans;
}

Recipe preset_recipe(const std::string& name, const model::AsrModel& model) {
  Recipe recipe;
  recipe.description = "preset " + name;
  auto add = [&](const std::string& pattern, Scheme scheme) {
    recipe.rules.push_back(Rule{pattern, scheme, RuleOptions{}, "--preset " + name});
  };
  bool speechbrain = model.format() == model::CheckpointFormat::kSpeechBrain;
  std::string encoder = speechbrain ? "encoder.wav2vec2.model." : model.config().model_type + ".";
  if (name == "tutorial") {
    // The SpeechBrain tutorial's lists, mapped onto HF names for HF models.
    add(encoder + "encoder.layers", Scheme::kDynamic);
    if (speechbrain) add("encoder.enc", Scheme::kDynamic);
    add(encoder + "feature_projection", Scheme::kStatic);
    add(encoder + "feature_extractor", Scheme::kStatic);
  } else if (name == "int8-all") {
    // Every Linear dynamic, every Conv1d static (the grouped positional conv
    // included: it runs as im2col GEMMs per group, grouped_int8_conv.h) except
    // the waveform conv (one input channel): quasr computes it on the same
    // direct float kernel either way, so int8 buys nothing there, and 8-bit
    // waveform samples were the largest error of the recipe (demo model: mean
    // KL 0.0094 -> 0.00034 nats/frame, ΔWER +0.71 -> +0.35 with it fp32).
    add("*", Scheme::kDynamic);
    for (model::Leaf* leaf : model.leaves()) {
      if (leaf->type() != "Conv1d") continue;
      const auto* conv = dynamic_cast<const model::Conv1dLeaf*>(leaf);
      const bool waveform = conv && conv->shape().in_channels == 1;
      add(leaf->name(), waveform ? Scheme::kFp32 : Scheme::kStatic);
    }
  } else if (name == "dynamic") {
    for (model::Leaf* leaf : model.leaves())
      if (leaf->type() == "Linear") add(leaf->name(), Scheme::kDynamic);
  } else {
    throw Error("--preset " + name + ": unknown preset (expected tutorial, int8-all or dynamic)");
  }
  return recipe;
}

namespace {

Scheme parse_scheme(const std::string& text, const std::string& where) {
  if (text == "dynamic" || text == "dynamic_int8") return Scheme::kDynamic;
  if (text == "static" || text == "static_int8") return Scheme::kStatic;
  if (text == "fp32" || text == "keep-fp32" || text == "none") return Scheme::kFp32;
  throw Error(where + ": unknown scheme '" + text + "' (expected dynamic, static or fp32)");
}

RuleOptions parse_options(const YAML::Node& node, const std::string& where) {
  RuleOptions options;
  if (node["weights"]) {
    std::string weights = node["weights"].as<std::string>();
    if (weights != "per_channel" && weights != "per_tensor")
      throw Error(where + ": weights must be per_channel or per_tensor, not '" + weights + "'");
    options.per_channel_weights = weights == "per_channel";
  }
  if (node["activations"]) {
    std::string activations = node["activations"].as<std::string>();
    if (activations != "per_row" && activations != "per_tensor")
      throw Error(where + ": activations must be per_row or per_tensor, not '" + activations + "'");
    options.per_row_activations = activations == "per_row";
  }
  if (node["observer"]) options.observer = node["observer"].as<std::string>();
  if (node["percentile"]) options.percentile = node["percentile"].as<double>();
  return options;
}

}  // namespace

Recipe read_recipe_file(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);  // JSON is YAML, so one parser reads both
  } catch (const YAML::BadFile&) {
    throw Error(path + ": cannot open recipe file");
  } catch (const YAML::Exception& e) {
    throw Error(path + ": malformed recipe (" + e.msg + ")");
  }
  YAML::Node rules = root.IsMap() ? root["rules"] : root;
  if (!rules || !rules.IsSequence())
    throw Error(path + ": expected a list of rules (or {rules: [...]})");
  Recipe recipe;
  recipe.description = "recipe " + path;
  try {
    for (const YAML::Node& node : rules) {
      std::string where = path + ":" + std::to_string(node.Mark().line + 1);
      if (!node.IsMap() || !node["scheme"] || !(node["module"] || node["modules"]))
        throw Error(where + ": each rule needs 'module' (or 'modules') and 'scheme'");
      Scheme scheme = parse_scheme(node["scheme"].as<std::string>(), where);
      RuleOptions options = parse_options(node, where);
      std::vector<std::string> patterns;
      if (node["module"]) patterns.push_back(node["module"].as<std::string>());
      if (node["modules"])
        for (const YAML::Node& name : node["modules"]) patterns.push_back(name.as<std::string>());
      for (const std::string& pattern : patterns)
        recipe.rules.push_back(Rule{pattern, scheme, options, where});
    }
  } catch (const YAML::Exception& e) {
    throw Error(path + ": malformed rule (" + e.msg + ")");
  }
  return recipe;
}

nlohmann::json recipe_to_json(const Recipe& recipe) {
  nlohmann::json rules = nlohmann::json::array();
  for (const Rule& rule : recipe.rules) {
    nlohmann::json entry{
        {"module", rule.pattern},
        {"scheme", scheme_name(rule.scheme)},
        {"weights", rule.options.per_channel_weights ? "per_channel" : "per_tensor"}};
    if (rule.scheme == Scheme::kDynamic)
      entry["activations"] = rule.options.per_row_activations ? "per_row" : "per_tensor";
    if (rule.scheme == Scheme::kStatic) {
      entry["observer"] = rule.options.observer;
      if (rule.options.observer == "percentile") entry["percentile"] = rule.options.percentile;
    }
    rules.push_back(entry);
  }
  return {{"description", recipe.description}, {"rules", rules}};
}

}  // namespace quasr::quantize
