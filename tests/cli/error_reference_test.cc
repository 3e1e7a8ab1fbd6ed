// The success paths the error tests are measured against: on the committed
// sb_local fixture, `quasr transcribe` prints FILE<TAB>TEXT with the texts the
// PyTorch reference decoded (tests/fixtures/parity/sb_local/cases.json),
// --logits writes the reference log-probabilities, and `inspect --json` lists
// the SpeechBrain module names of the checkpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "error_test_util.h"
#include "io/npy.h"

namespace quasr::clitest {
namespace {

struct Case {
  std::string wav;
  std::string text;
  std::string logprobs;
};

std::vector<Case> sb_local_cases() {
  const nlohmann::json cases =
      nlohmann::json::parse(read_file(fixture("parity/sb_local/cases.json")));
  std::vector<Case> out;
  for (const nlohmann::json& u : cases.at("utterances"))
    out.push_back({fixture(u.at("wav").get<std::string>()), u.at("text").get<std::string>(),
                   fixture(u.at("logprobs").get<std::string>())});
  return out;
}

// One at a time, and in groups of 2 (the last one short) or 3 through the
// transformer together (--batch-size): the same texts.
TEST(CliReference, TranscribePrintsReferenceTexts) {
  const std::vector<Case> cases = sb_local_cases();
  ASSERT_EQ(cases.size(), 3u);
  for (const char* batch_size : {"1", "2", "3"}) {
    std::vector<std::string> args{"transcribe", "--model", fixture("models/sb_local"),
                                  "--batch-size", batch_size};
    std::string expected;
    for (const Case& c : cases) {
      args.push_back(c.wav);
      expected += c.wav + "\t" + c.text + "\n";
    }
    const CommandResult outcome = run_quasr(args);
    EXPECT_EQ(outcome.status, 0) << outcome.err;
    EXPECT_EQ(outcome.err, "");
    EXPECT_EQ(outcome.out, expected) << "--batch-size " << batch_size;
  }
}

TEST(CliReference, BatchSizeIsAPositiveNumberAndNotWithPaddedBatch) {
  const Case c = sb_local_cases().at(0);
  const std::string model = fixture("models/sb_local");
  EXPECT_EQ(run_quasr({"transcribe", "--model", model, "--batch-size", "0", c.wav}).status, 2);
  const CommandResult both =
      run_quasr({"transcribe", "--model", model, "--batch", "--batch-size", "2", c.wav});
  EXPECT_EQ(both.status, 2);
  EXPECT_NE(both.err.find("--batch excludes --batch-size"), std::string::npos) << both.err;
}

TEST(CliReference, LogitsEqualReference) {
  const Case c = sb_local_cases().at(0);
  TempDir dir;
  const std::string logits = dir / "utt0.npy";
  const CommandResult outcome = run_quasr({"transcribe", "--model", fixture("models/sb_local"),
                                           "--fp32-matmul", "exact", "--logits", logits, c.wav});
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  EXPECT_EQ(outcome.out, c.wav + "\t" + c.text + "\n");
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"utt0.npy"});  // no temp file left
  const NpyArray got = read_npy_f32(logits);
  const NpyArray want = read_npy_f32(c.logprobs);
  ASSERT_EQ(got.shape, want.shape);
  ASSERT_EQ(want.shape, (Shape{399, 40}));
  float max_diff = 0.0f;
  for (size_t i = 0; i < want.data.size(); ++i)
    max_diff = std::max(max_diff, std::fabs(got.data[i] - want.data[i]));
  EXPECT_LE(max_diff, 1e-4f);
}

// Module names of SpeechBrain's mods.encoder for the fixture (4 convs with
// LayerNorm, 2 transformer layers, enc of 3 blocks, ctc_lin), as the
// checkpoint keys name them: wav2vec2.ckpt "model.X" -> encoder.wav2vec2.model.X,
// asr.ckpt "0.Y" -> encoder.enc.Y and "1.w" -> encoder.ctc_lin.w.
std::set<std::string> expected_sb_local_modules() {
  const std::string lobe = "encoder.wav2vec2.model.";
  std::set<std::string> names;
  for (int i = 0; i < 4; ++i) {
    const std::string conv = lobe + "feature_extractor.conv_layers." + std::to_string(i);
    names.insert({conv + ".conv", conv + ".layer_norm"});
  }
  names.insert({lobe + "feature_projection.layer_norm", lobe + "feature_projection.projection",
                lobe + "encoder.pos_conv_embed.conv", lobe + "encoder.layer_norm"});
  for (int l = 0; l < 2; ++l) {
    const std::string layer = lobe + "encoder.layers." + std::to_string(l) + ".";
    for (const char* part : {"attention.q_proj", "attention.k_proj", "attention.v_proj",
                             "attention.out_proj", "layer_norm", "feed_forward.intermediate_dense",
                             "feed_forward.output_dense", "final_layer_norm"})
      names.insert(layer + part);
  }
  for (int b = 1; b <= 3; ++b) {
    names.insert("encoder.enc.linear" + std::to_string(b) + ".w");
    names.insert("encoder.enc.bn" + std::to_string(b) + ".norm");
  }
  names.insert("encoder.ctc_lin.w");
  return names;
}

TEST(CliReference, InspectJsonListsModules) {
  const CommandResult outcome =
      run_quasr({"inspect", "--json", "--model", fixture("models/sb_local")});
  ASSERT_EQ(outcome.status, 0) << outcome.err;
  const nlohmann::json doc = nlohmann::json::parse(outcome.out);
  EXPECT_EQ(doc.at("format"), "speechbrain");
  EXPECT_EQ(doc.at("vocab_size"), 40);
  EXPECT_EQ(doc.at("blank_id"), 0);
  std::set<std::string> names;
  for (const nlohmann::json& m : doc.at("modules")) names.insert(m.at("name").get<std::string>());
  EXPECT_EQ(names, expected_sb_local_modules());
  // Two shapes from the fixture's config: conv 0 is Conv1d(1 -> 32, k=10),
  // ctc_lin is Linear(48 -> 40).
  for (const nlohmann::json& m : doc.at("modules")) {
    const nlohmann::json& first = m.at("params").at(0);
    if (m.at("name") == "encoder.wav2vec2.model.feature_extractor.conv_layers.0.conv") {
      EXPECT_EQ(first.at("shape"), nlohmann::json({32, 1, 10}));
    }
    if (m.at("name") == "encoder.ctc_lin.w") {
      EXPECT_EQ(first.at("shape"), nlohmann::json({40, 48}));
    }
  }
}

}  // namespace
}  // namespace quasr::clitest
