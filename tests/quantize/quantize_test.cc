// Recipes, conversion, quasr folders and the int8 kernels against a reference
// computed here in double from the same int8 codes.
#include <cmath>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "audio/audio.h"
#include "core/error.h"
#include "kernels/quantized_gemm.h"
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

TEST(QuantizeTest, SavedFolderReloadsToTheSameOutputs) {
  auto model = load_for_quantize("sb_local");
  auto audio = fixture_audio("sb_local");
  QuantizeResult result = quantize_model(*model, preset_recipe("int8-all", *model), audio);
  fs::path out = fs::temp_directory_path() / ("quasr-q-" + std::to_string(::getpid()));
  fs::remove_all(out);
  model::save_quasr_folder(*model, result.leaves, result.quantization, out.string());
  auto reloaded = model::load_model(out.string());
  model::Workspace ws;
  for (const auto& wav : audio) {
    Tensor expected, actual;
    model->log_probs(wav.data(), static_cast<int64_t>(wav.size()), ws, expected);
    reloaded->log_probs(wav.data(), static_cast<int64_t>(wav.size()), ws, actual);
    ASSERT_EQ(expected.shape(), actual.shape());
    for (int64_t i = 0; i < expected.numel(); ++i) {
      ASSERT_EQ(expected.data()[i], actual.data()[i]);
    }
  }
  for (const model::ModuleInfo& module : reloaded->modules()) {
    bool leaf = module.type == "Linear" || module.type == "Conv1d";
    EXPECT_EQ(module.scheme == "fp32", !leaf) << module.name;
  }
  EXPECT_NE(error_of([&] {
              model::save_quasr_folder(*model, result.leaves, result.quantization, out.string());
            }).find("already exists"),
            std::string::npos);
  fs::remove_all(out);
}

// y = Σ (q_x - zp) q_w * s_x * s_w + b in double, from the same codes the kernel uses.
void expect_int8_linear_matches_reference(int64_t m, int64_t k, int64_t n,
                                          kernels::ActivationQuant quant) {
  std::mt19937 rng(static_cast<unsigned>(m * 1000 + k * 10 + n));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(m * k), w(n * k), bias(n), y(m * n);
  for (float& v : x) v = normal(rng) + 0.3f;
  for (float& v : w) v = normal(rng) * 0.1f;
  for (float& v : bias) v = normal(rng);
  std::vector<int8_t> codes(n * k);
  std::vector<float> scales;
  kernels::quantize_weights_s8(w.data(), n, k, /*per_channel=*/true, codes.data(), &scales);
  kernels::Int8Linear linear(codes.data(), scales, bias.data(), n, k, quant,
                             kernels::Activation::kNone);
  linear.run(x.data(), m, y.data());
  const int qmax = kernels::activation_qmax();
  for (int64_t r = 0; r < m; ++r) {
    float s = quant.scale;
    int32_t zp = quant.zero_point;
    if (quant.mode == kernels::ActivationQuant::Mode::kDynamicPerRow) {
      auto [lo, hi] = std::minmax_element(&x[r * k], &x[r * k] + k);
      kernels::choose_u8_params(*lo, *hi, qmax, &s, &zp);
    }
    for (int64_t c = 0; c < n; ++c) {
      double acc = 0.0;
      // Codes are round_half_even(x * (1/s)) in float, as fbgemm computes them.
      const float inverse = 1.0f / s;
      for (int64_t i = 0; i < k; ++i) {
        double q =
            std::clamp(double(std::nearbyint(x[r * k + i] * inverse)) + zp, 0.0, double(qmax));
        acc += (q - zp) * codes[c * k + i];
      }
      double expected = acc * s * scales[c] + bias[c];
      ASSERT_NEAR(y[r * n + c], expected, 1e-4 * (1.0 + std::abs(expected)))
          << "m=" << m << " k=" << k << " n=" << n << " row " << r << " col " << c;
    }
  }
}

TEST(Int8KernelTest, DynamicPerRowMatchesReferenceOnOddShapes) {
  for (auto [m, k, n] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {1, 13, 5}, {7, 64, 17}, {33, 100, 48}, {300, 256, 96}})
    expect_int8_linear_matches_reference(m, k, n, {});
}

TEST(Int8KernelTest, StaticScaleMatchesReference) {
  kernels::ActivationQuant quant;
  quant.mode = kernels::ActivationQuant::Mode::kStatic;
  kernels::choose_u8_params(-2.5f, 3.5f, kernels::activation_qmax(), &quant.scale,
                            &quant.zero_point);
  expect_int8_linear_matches_reference(9, 37, 11, quant);
}

TEST(Int8KernelTest, WeightQuantizationRoundTripsWithinHalfAStep) {
  std::vector<float> w{0.5f, -1.0f, 0.25f, 0.0f, 3.0f, -0.75f};
  std::vector<int8_t> codes(6);
  std::vector<float> scales;
  kernels::quantize_weights_s8(w.data(), 2, 3, /*per_channel=*/true, codes.data(), &scales);
  EXPECT_FLOAT_EQ(scales[0], 1.0f / 127);
  EXPECT_FLOAT_EQ(scales[1], 3.0f / 127);
  EXPECT_EQ(codes[1], -127);
  EXPECT_EQ(codes[4], 127);
  for (int i = 0; i < 6; ++i)
    EXPECT_LE(std::abs(codes[i] * scales[i / 3] - w[i]), scales[i / 3] / 2);
}

}  // namespace
}  // namespace quasr::quantize
