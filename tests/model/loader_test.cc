// Model-folder loading: format detection, architecture discovery for
// SpeechBrain folders, and the errors users see for broken folders.
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/asr_model.h"

namespace quasr::model {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& relative) {
  return std::string(QUASR_FIXTURE_DIR) + "/" + relative;
}

class TempModelDir {
 public:
  explicit TempModelDir(const std::string& variant) {
    path_ =
        fs::temp_directory_path() / ("quasr-loader-" + variant + "-" + std::to_string(::getpid()) +
                                     "-" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::copy(fixture("models/" + variant), path_,
             fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  }
  ~TempModelDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

std::string error_of(const std::string& directory) {
  try {
    load_model(directory);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void rewrite(const fs::path& file, const std::string& from, const std::string& to) {
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  std::string replaced = std::regex_replace(text, std::regex(from), to);
  ASSERT_NE(replaced, text) << "pattern not found in " << file;
  std::ofstream(file) << replaced;
}

TEST(LoaderTest, MissingFolderIsAnError) {
  EXPECT_EQ(error_of("/nonexistent/model"), "/nonexistent/model: model folder not found");
}

TEST(LoaderTest, FolderWithoutConfigNamesBothFormats) {
  fs::path empty = fs::temp_directory_path() / ("quasr-empty-" + std::to_string(::getpid()));
  fs::create_directories(empty);
  EXPECT_NE(error_of(empty.string())
                .find("expected config.json for Hugging Face or "
                      "hyperparams.yaml for SpeechBrain"),
            std::string::npos);
  fs::remove_all(empty);
}

TEST(LoaderTest, MisShapedTensorNamesTensorAndShapes) {
  TempModelDir dir("hf_large_st");
  rewrite(dir.path() / "config.json", "\"intermediate_size\": 64", "\"intermediate_size\": 96");
  std::string error = error_of(dir.path().string());
  EXPECT_NE(error.find("wav2vec2.encoder.layers.0.feed_forward.intermediate_dense.weight"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("[64, 32]"), std::string::npos) << error;
  EXPECT_NE(error.find("[96, 32]"), std::string::npos) << error;
}

TEST(LoaderTest, MissingWeightsFileIsNamed) {
  TempModelDir dir("hf_large_st");
  fs::remove(dir.path() / "model.safetensors");
  EXPECT_NE(error_of(dir.path().string()).find("expected model.safetensors or pytorch_model.bin"),
            std::string::npos);
}

TEST(LoaderTest, SpeechBrainFindsArchitectureInHuggingFaceCache) {
  auto model = load_model(fixture("models/sb_hfcache"));
  EXPECT_EQ(model->format(), CheckpointFormat::kSpeechBrain);
  EXPECT_EQ(model->config().feat_extract_norm, "group");
}

TEST(LoaderTest, SpeechBrainUnknownSourceSaysWhichFileToProvide) {
  TempModelDir dir("sb_hfcache");
  fs::remove_all(dir.path() / "wav2vec2_checkpoint");
  std::string error = error_of(dir.path().string());
  EXPECT_NE(error.find("hyperparams.yaml: the wav2vec2 source 'quasr-fixtures/wav2vec2-tiny-base'"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("put its config.json"), std::string::npos) << error;
}

TEST(LoaderTest, SpeechBrainFallsBackToBuiltInTableOfHubIds) {
  TempModelDir dir("sb_hfcache");
  fs::remove_all(dir.path() / "wav2vec2_checkpoint");
  rewrite(dir.path() / "hyperparams.yaml", "quasr-fixtures/wav2vec2-tiny-base",
          "facebook/wav2vec2-base");
  // The table describes the real 512-channel base model, so the tiny
  // checkpoint's first conv no longer fits: proof the table was used.
  std::string error = error_of(dir.path().string());
  EXPECT_NE(error.find("model.feature_extractor.conv_layers.0.conv.weight"), std::string::npos)
      << error;
  EXPECT_NE(error.find("expected [512, 1, 10]"), std::string::npos) << error;
}

TEST(LoaderTest, ModuleNamesAreThePyTorchNames) {
  auto sb = load_model(fixture("models/sb_local"));
  std::vector<std::string> names;
  for (const ModuleInfo& module : sb->modules()) names.push_back(module.name);
  auto has = [&](const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  EXPECT_TRUE(has("encoder.wav2vec2.model.encoder.layers.1.attention.q_proj"));
  EXPECT_TRUE(has("encoder.wav2vec2.model.feature_extractor.conv_layers.0.conv"));
  EXPECT_TRUE(has("encoder.wav2vec2.model.feature_projection.projection"));
  EXPECT_TRUE(has("encoder.enc.linear1.w"));
  EXPECT_TRUE(has("encoder.enc.bn1.norm"));
  EXPECT_TRUE(has("encoder.ctc_lin.w"));
  auto hf = load_model(fixture("models/hf_hubert"));
  EXPECT_EQ(hf->modules().back().name, "lm_head");
  EXPECT_EQ(hf->modules().front().name, "hubert.feature_extractor.conv_layers.0.conv");
}

}  // namespace
}  // namespace quasr::model
