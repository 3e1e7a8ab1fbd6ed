// Broken model folders, for both `quasr transcribe` and `quasr inspect`: each
// test copies a fixture model into a temporary folder and damages one file.
// Expected: exit code 1, nothing on stdout, one stderr line naming the damaged
// file (and the tensor, where one is at fault) and the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "error_test_util.h"

namespace quasr::clitest {
namespace {

namespace fs = std::filesystem;

class ModelErrors : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { fs::create_directory(out_dir_); }

  CommandResult run(const std::string& model) {
    if (GetParam() == "inspect") return run_quasr({"inspect", "--model", model});
    return run_quasr({"transcribe", "--model", model, "--logits", out_dir_ + "/logits.npy",
                      fixture("parity/sb_local/utt0.wav")});
  }
  void expect_no_output() { EXPECT_TRUE(list_dir(out_dir_).empty()); }

  TempDir dir_;
  const std::string model_ = dir_ / "model";
  const std::string out_dir_ = dir_ / "out";
};

TEST_P(ModelErrors, TruncatedSafetensorsData) {
  copy_model("hf_large_st", model_);
  const std::string weights = model_ + "/model.safetensors";
  fs::resize_file(weights, fs::file_size(weights) / 2);
  expect_error(run(model_), 1, {weights, "out of range"});
  expect_no_output();
}

TEST_P(ModelErrors, TruncatedSafetensorsHeader) {
  // The 8-byte length prefix promises a JSON header longer than what is left.
  copy_model("hf_large_st", model_);
  const std::string weights = model_ + "/model.safetensors";
  fs::resize_file(weights, 100);
  expect_error(run(model_), 1, {weights, "header"});
  expect_no_output();
}

TEST_P(ModelErrors, PickleNamingOsSystem) {
  // tests/fixtures/io/malicious_os_system.pt: a torch zip whose data.pkl calls
  // os.system (pickled as posix.system) through REDUCE.
  copy_model("hf_base_bin", model_);
  const std::string weights = model_ + "/pytorch_model.bin";
  fs::copy_file(fixture("io/malicious_os_system.pt"), weights,
                fs::copy_options::overwrite_existing);
  expect_error(run(model_), 1, {weights, "system"});
  expect_no_output();
}

TEST_P(ModelErrors, SpeechBrainCheckpointPickleNamingEval) {
  copy_model("sb_local", model_);
  const std::string weights = model_ + "/wav2vec2.ckpt";
  fs::copy_file(fixture("io/malicious_eval.pt"), weights, fs::copy_options::overwrite_existing);
  expect_error(run(model_), 1, {weights, "eval"});
  expect_no_output();
}

TEST_P(ModelErrors, MisShapedTensor) {
  // Same byte count ([32, 32] -> [64, 16]), so only the shape check can catch it.
  copy_model("hf_large_st", model_);
  const std::string weights = model_ + "/model.safetensors";
  const std::string key =
      "\"wav2vec2.encoder.layers.0.attention.k_proj.weight\":"
      "{\"dtype\":\"F32\",\"shape\":";
  patch_bytes(weights, key + "[32,32]", key + "[64,16]");
  expect_error(
      run(model_), 1,
      {weights, "wav2vec2.encoder.layers.0.attention.k_proj.weight", "[64, 16]", "[32, 32]"});
  expect_no_output();
}

TEST_P(ModelErrors, SpeechBrainFolderWithoutLobeConfig) {
  // hyperparams.yaml points wav2vec2_hub at ./wav2vec2_source; without its
  // config.json the architecture (strides, heads) is unknown.
  copy_model("sb_local", model_);
  fs::remove(model_ + "/wav2vec2_source/config.json");
  expect_error(run(model_), 1, {"config.json"});
  expect_no_output();
}

INSTANTIATE_TEST_SUITE_P(Commands, ModelErrors, testing::Values("transcribe", "inspect"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(InspectErrors, MissingModelDirectory) {
  TempDir dir;
  const std::string model = dir / "no_such_model";
  expect_error(run_quasr({"inspect", "--model", model}), 1, {model, "not found"});
}

TEST(InspectErrors, ModelDirectoryWithoutConfig) {
  TempDir dir;
  expect_error(run_quasr({"inspect", "--model", dir.path()}), 1,
               {dir.path(), "config.json", "hyperparams.yaml"});
}

TEST(InspectErrors, UsageWithoutModel) {
  const CommandResult outcome = run_quasr({"inspect"});
  EXPECT_EQ(outcome.status, 2);
  EXPECT_EQ(outcome.out, "");
  EXPECT_EQ(outcome.err.substr(0, outcome.err.find('\n')), "--model is required");
}

}  // namespace
}  // namespace quasr::clitest
