// Recipes, conversion and quasr folders (the int8 kernels have their own
// tests in tests/kernels).
#include <cmath>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "audio/audio.h"
#include "core/error.h"
#include "model/quasr_folder.h"
#include "quantize/quantizer.h"

namespace quasr::quantize {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& relative) {
  return std::string(QUASR_FIXTURE_DIR) + "/" + relative;
}

std::unique_ptr<model::AsrModel> load_for_quantize(const std::string& variant) {
  model::LoadOptions options;
  options.keep_source_weights = true;
  return model::load_model(fixture("models/" + variant), options);
}

std::vector<std::vector<float>> fixture_audio(const std::string& variant) {
  std::vector<std::vector<float>> audio;
  for (int i = 0; i < 3; ++i)
    audio.push_back(load_audio(fixture("parity/" + variant + "/utt" + std::to_string(i) + ".wav")));
  return audio;
}

std::map<std::string, Scheme> schemes_of(const std::vector<LeafPlan>& plans) {
  std::map<std::string, Scheme> schemes;
  for (const LeafPlan& plan : plans) schemes[plan.leaf->name()] = plan.scheme;
  return schemes;
}

Rule rule(const std::string& pattern, Scheme scheme, const std::string& origin = "t") {
  Rule r;
  r.pattern = pattern;
  r.scheme = scheme;
  r.origin = origin;
  return r;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(RecipeTest, TutorialPresetMatchesTheTutorialsLists) {
  auto model = load_for_quantize("sb_local");
  auto schemes = schemes_of(resolve_recipe(preset_recipe("tutorial", *model), *model));
  const std::string w2v = "encoder.wav2vec2.model.";
  EXPECT_EQ(schemes.at(w2v + "encoder.layers.1.attention.q_proj"), Scheme::kDynamic);
  EXPECT_EQ(schemes.at(w2v + "encoder.layers.0.feed_forward.output_dense"), Scheme::kDynamic);
  EXPECT_EQ(schemes.at("encoder.enc.linear2.w"), Scheme::kDynamic);
  EXPECT_EQ(schemes.at(w2v + "feature_extractor.conv_layers.0.conv"), Scheme::kStatic);
  EXPECT_EQ(schemes.at(w2v + "feature_projection.projection"), Scheme::kStatic);
  EXPECT_EQ(schemes.at(w2v + "encoder.pos_conv_embed.conv"), Scheme::kFp32);
  EXPECT_EQ(schemes.at("encoder.ctc_lin.w"), Scheme::kFp32);
}

TEST(RecipeTest, MostSpecificRuleWinsAndGlobsMatchWholeNames) {
  auto model = load_for_quantize("sb_local");
  Recipe recipe;
  recipe.rules.push_back(
      rule("encoder.wav2vec2.model.encoder.pos_conv_embed.conv", Scheme::kStatic, "t"));
  recipe.rules.push_back(rule("*.attention.?_proj", Scheme::kDynamic, "t"));
  recipe.rules.push_back(rule("encoder.wav2vec2.model.encoder.layers", Scheme::kStatic, "t"));
  recipe.rules.push_back(
      rule("encoder.wav2vec2.model.encoder.layers.1.attention.k_proj", Scheme::kFp32, "t"));
  auto schemes = schemes_of(resolve_recipe(recipe, *model));
  const std::string layer1 = "encoder.wav2vec2.model.encoder.layers.1.";
  EXPECT_EQ(schemes.at(layer1 + "attention.k_proj"), Scheme::kFp32);      // exact name
  EXPECT_EQ(schemes.at(layer1 + "attention.q_proj"), Scheme::kStatic);    // prefix beats glob
  EXPECT_EQ(schemes.at(layer1 + "attention.out_proj"), Scheme::kStatic);  // prefix only
  EXPECT_EQ(schemes.at("encoder.enc.linear1.w"), Scheme::kFp32);          // no rule
}

TEST(RecipeTest, BadRulesExplainThemselves) {
  auto model = load_for_quantize("sb_local");
  auto resolve = [&](const std::string& pattern, Scheme scheme) {
    return error_of([&] {
      Recipe recipe;
      recipe.rules.push_back(rule(pattern, scheme, "--static"));
      resolve_recipe(recipe, *model);
    });
  };
  EXPECT_EQ(resolve("encoder.enc.bn1.norm", Scheme::kStatic),
            "--static encoder.enc.bn1.norm: module is a BatchNorm1d, which has no int8 kernel "
            "(rules apply to Linear and Conv1d modules)");
  EXPECT_NE(resolve("encoder.ctc_lim", Scheme::kStatic)
                .find("matches no Linear or Conv1d module; closest names: encoder.ctc_lin.w"),
            std::string::npos);
  EXPECT_NE(resolve("encoder.wav2vec2.model.feature_extractor", Scheme::kDynamic)
                .find("is a Conv1d, which takes static int8 only"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { quantize_model(*model, preset_recipe("tutorial", *model), {}); }),
            "static quantization needs calibration audio (--calib DATA)");
}

TEST(QuantizeTest, DynamicPerRowStaysCloseToFp32) {
  auto model = load_for_quantize("hf_large_st");
  QuantizeResult result =
      quantize_model(*model, preset_recipe("dynamic", *model), fixture_audio("hf_large_st"));
  EXPECT_EQ(result.leaves.size(), 14u);  // 2 layers x 6 linears, feature projection, lm_head
  EXPECT_GT(result.quality.argmax_agreement, 0.95);
  EXPECT_LT(result.quality.max_abs_logprob_diff, 0.5);
  EXPECT_LT(result.quality.mean_kl, 0.01);
  for (const ModuleQuality& module : result.quality.modules) EXPECT_GT(module.sqnr_db, 30.0);
}

// The reloaded model runs other paths than the in-process one (q/k/v as one
// matmul) and than the plain leaf-by-leaf one (int8 rows handed from each
// linear's or extractor conv's epilogue to the next), which must all give the
// same bits: sb_local has pre-LN (stable) layers and a LayerNorm extractor,
// hf_base_bin post-LN layers and a GroupNorm extractor.
class SavedFolderTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SavedFolderTest, ReloadsToTheSameOutputs) {
  const std::string variant = GetParam();
  auto model = load_for_quantize(variant);
  auto audio = fixture_audio(variant);
  QuantizeResult result = quantize_model(*model, preset_recipe("int8-all", *model), audio);
  fs::path out = fs::temp_directory_path() / ("quasr-q-" + variant + std::to_string(::getpid()));
  fs::remove_all(out);
  model::save_quasr_folder(*model, result.leaves, result.quantization, out.string());
  auto reloaded = model::load_model(out.string());
  model::Workspace ws;
  auto log_probs = [&](const model::AsrModel& m, const std::vector<float>& wav) {
    Tensor result;
    m.log_probs(wav.data(), static_cast<int64_t>(wav.size()), ws, result);
    return result;
  };
  auto expect_same_bits = [](const Tensor& expected, const Tensor& actual) {
    ASSERT_EQ(expected.shape(), actual.shape());
    for (int64_t i = 0; i < expected.numel(); ++i) ASSERT_EQ(expected.data()[i], actual.data()[i]);
  };
  std::vector<Tensor> fused;
  for (const auto& wav : audio) {
    fused.push_back(log_probs(*reloaded, wav));
    expect_same_bits(log_probs(*model, wav), fused.back());
  }
  // An observer on a leaf turns off every fusion that would hide its input
  // (q/k/v as one matmul, int8 rows handed between linears and between
  // extractor convs): the plain path, leaf by leaf, must give the same bits.
  for (model::Leaf* leaf : reloaded->leaves())
    leaf->set_input_observer([](const float*, int64_t) {});
  for (size_t i = 0; i < audio.size(); ++i)
    expect_same_bits(fused[i], log_probs(*reloaded, audio[i]));
  for (model::Leaf* leaf : reloaded->leaves()) leaf->set_input_observer({});
  for (const model::ModuleInfo& module : reloaded->modules()) {
    // int8-all quantizes every Linear and Conv1d, the positional conv included,
    // except the waveform conv (one input channel).
    bool quantized = module.type == "Linear" ||
                     (module.type == "Conv1d" &&
                      module.name.find("feature_extractor.conv_layers.0.") == std::string::npos);
    EXPECT_EQ(module.scheme != "fp32", quantized) << module.name;
  }
  EXPECT_NE(error_of([&] {
              model::save_quasr_folder(*model, result.leaves, result.quantization, out.string());
            }).find("already exists"),
            std::string::npos);
  fs::remove_all(out);
}

INSTANTIATE_TEST_SUITE_P(Layers, SavedFolderTest, ::testing::Values("sb_local", "hf_base_bin"));

}  // namespace
}  // namespace quasr::quantize
