// AsrModel::group_log_probs: utterances whose transformer runs as one stack
// get the bits each gets alone (log_probs_windowed with the same window),
// for every fixture model in fp32 and, quantized int8-all as users run it
// (saved and loaded back), on sb_local. The group mixes the fixture's real
// utterances, a clip too short for a frame and one long enough to be
// windowed alone.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "audio/audio.h"
#include "model/asr_model.h"
#include "model/quasr_folder.h"
#include "quantize/quantizer.h"
#include "quantize/recipe.h"

namespace quasr::model {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& relative) {
  return std::string(QUASR_FIXTURE_DIR) + "/" + relative;
}

std::vector<float> noise(int64_t samples, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.1f);
  std::vector<float> wav(static_cast<size_t>(samples));
  for (float& v : wav) v = dist(rng);
  return wav;
}

struct Group {
  std::vector<std::vector<float>> wavs;
  int64_t window = 0, context = 0;  // samples
};

Group make_group(const std::string& variant) {
  Group group;
  for (int i = 0; i < 3; ++i)
    group.wavs.push_back(
        load_audio(fixture("parity/" + variant + "/utt" + std::to_string(i) + ".wav"), 16000));
  size_t longest = 0;
  for (const auto& wav : group.wavs) longest = std::max(longest, wav.size());
  group.window = static_cast<int64_t>(longest);
  group.context = group.window / 8;
  group.wavs.insert(group.wavs.begin() + 1, noise(40, 3));  // no frame
  group.wavs.push_back(noise(3 * group.window, 5));         // windowed alone
  group.wavs.push_back(noise(group.window / 3, 9));
  return group;
}

void expect_bits_alone(const AsrModel& model, const Group& group, const std::string& what) {
  Workspace ws;
  std::vector<Tensor> together;
  model.group_log_probs(group.wavs, ws, together, group.window, group.context);
  ASSERT_EQ(together.size(), group.wavs.size());
  for (size_t i = 0; i < group.wavs.size(); ++i) {
    Tensor alone;
    model.log_probs_windowed(group.wavs[i].data(), static_cast<int64_t>(group.wavs[i].size()),
                             group.window, group.context, ws, alone);
    ASSERT_EQ(together[i].shape(), alone.shape()) << what << ", utterance " << i;
    for (int64_t v = 0; v < alone.numel(); ++v)
      ASSERT_EQ(together[i].data()[v], alone.data()[v])
          << what << ", utterance " << i << ", value " << v;
  }
  EXPECT_EQ(together[1].dim(0), 0) << what;  // the clip too short for a frame
  EXPECT_GT(together[0].dim(0), 10) << what;
}

class GroupTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GroupTest, Fp32EachAsAlone) {
  const std::string variant = GetParam();
  auto model = load_model(fixture("models/" + variant));
  expect_bits_alone(*model, make_group(variant), variant + " fp32");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GroupTest,
                         ::testing::Values("hf_base_bin", "hf_large_st", "hf_hubert", "sb_local",
                                           "sb_hfcache"));

TEST(GroupInt8Test, Int8AllEachAsAlone) {
  const Group group = make_group("sb_local");
  LoadOptions options;
  options.keep_source_weights = true;
  auto model = load_model(fixture("models/sb_local"), options);
  auto result = quantize::quantize_model(*model, quantize::preset_recipe("int8-all", *model),
                                         {group.wavs[0], group.wavs[2]});
  const fs::path folder =
      fs::temp_directory_path() / ("quasr-group-int8-" + std::to_string(::getpid()));
  fs::remove_all(folder);
  save_quasr_folder(*model, result.leaves, result.quantization, folder.string());
  auto quantized = load_model(folder.string());
  fs::remove_all(folder);
  expect_bits_alone(*quantized, group, "sb_local int8-all");
}

}  // namespace
}  // namespace quasr::model
