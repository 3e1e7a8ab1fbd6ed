// quasr's int8 is never less accurate than PyTorch's int8 on the same recipe.
// The PyTorch numbers come from tools/make_torch_int8_reference.py (torch.ao
// on the reference model, same 3 utterances, same three measures); both sides
// compare their own int8 model with their own fp32 model.
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "model/quasr_folder.h"
#include "quantize/quantizer.h"

namespace quasr::quantize {
namespace {

std::string fixture(const std::string& relative) {
  return std::string(QUASR_FIXTURE_DIR) + "/" + relative;
}

nlohmann::json torch_reference(const std::string& variant) {
  std::string path = fixture("quant_vs_torch/" + variant + ".json");
  std::ifstream in(path);
  if (!in) ADD_FAILURE() << path << ": cannot open (run tools/make_torch_int8_reference.py)";
  return nlohmann::json::parse(in);
}

class VsPytorchTest : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(VsPytorchTest, QuasrInt8IsAtLeastAsAccurateAsPytorchInt8) {
  const auto& [variant, recipe] = GetParam();
  nlohmann::json ref = torch_reference(variant);
  ASSERT_TRUE(ref.contains("recipes"));
  if (!ref["recipes"].contains(recipe)) GTEST_SKIP() << "no PyTorch reference for " << recipe;
  const nlohmann::json& torch = ref["recipes"][recipe];
  if (torch["status"] != "ok")
    GTEST_SKIP() << "PyTorch's " << recipe << " recipe failed on " << variant << ": "
                 << torch["error"].get<std::string>();

  model::LoadOptions options;
  options.keep_source_weights = true;
  auto model = model::load_model(fixture("models/" + variant), options);
  std::vector<std::vector<float>> audio;
  for (const auto& wav : ref["audio"]) audio.push_back(load_audio(fixture(wav.get<std::string>())));
  QuantizeResult result = quantize_model(*model, preset_recipe(recipe, *model), audio);
  const ModelQuality& quasr = result.quality;

  const double torch_max = torch["max_abs_logprob_diff"].get<double>();
  const double torch_agree = torch["argmax_agreement"].get<double>();
  const double torch_kl = torch["mean_kl_fp32_int8"].get<double>();
  std::cout << "[vs-pytorch] " << variant << " " << recipe << ": max|dlogp| quasr "
            << quasr.max_abs_logprob_diff << " torch " << torch_max << "; argmax quasr "
            << quasr.argmax_agreement << " torch " << torch_agree << "; KL quasr " << quasr.mean_kl
            << " torch " << torch_kl << "\n";
  // Same utterances, same frame rule: the frame counts must agree, or the
  // comparison is between different things.
  EXPECT_EQ(quasr.frames, torch["frames"].get<int64_t>());
  EXPECT_LE(quasr.max_abs_logprob_diff, torch_max);
  EXPECT_GE(quasr.argmax_agreement, torch_agree);
}

std::vector<std::tuple<std::string, std::string>> cases() {
  std::vector<std::tuple<std::string, std::string>> out;
  for (const char* variant : {"hf_base_bin", "hf_large_st", "hf_hubert", "sb_local", "sb_hfcache"})
    for (const char* recipe : {"dynamic", "tutorial"}) out.emplace_back(variant, recipe);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VsPytorchTest, ::testing::ValuesIn(cases()),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

}  // namespace
}  // namespace quasr::quantize
