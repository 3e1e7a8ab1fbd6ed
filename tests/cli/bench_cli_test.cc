// quasr bench end to end on the tiny fixture models: every dataset layout,
// exact WER on references with known edits, several models, --n, bad input
// and --skip-bad. The fixture models are random, so references are their own
// PyTorch transcripts (tests/fixtures/parity/<variant>/cases.json).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "bench_test_util.h"

namespace quasr::clitest {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> bench_args(const std::vector<std::string>& models, const std::string& data,
                                    const std::string& json) {
  std::vector<std::string> args = {"bench"};
  for (const std::string& m : models) {
    args.push_back("--model");
    args.push_back(fixture_model(m));
  }
  args.insert(args.end(), {"--data", data, "--warmup", "1", "--threads", "1", "--json", json});
  return args;
}

int total_words(const std::vector<Row>& rows) {
  int words = 0;
  for (const Row& row : rows) words += count_words(row.text);
  return words;
}

const nlohmann::json& model_named(const nlohmann::json& run, const std::string& name) {
  for (const nlohmann::json& m : run.at("models")) {
    if (m.at("name") == name) return m;
  }
  throw std::runtime_error("no model " + name);
}

void expect_exact(const nlohmann::json& model, int ref_words) {
  const nlohmann::json& wer = model.at("wer");
  EXPECT_EQ(wer.at("ref_tokens"), ref_words);
  EXPECT_EQ(wer.at("sub"), 0);
  EXPECT_EQ(wer.at("del"), 0);
  EXPECT_EQ(wer.at("ins"), 0);
  EXPECT_EQ(wer.at("error_rate"), 0.0);
  EXPECT_EQ(model.at("cer").at("error_rate"), 0.0);
  EXPECT_EQ(model.at("utterances"), 3);
}

class BenchFormats : public ::testing::TestWithParam<std::string> {};

TEST_P(BenchFormats, OwnTranscriptsScoreZeroErrors) {
  TempDir dir;
  const std::vector<Row> rows = exact_rows("sb_local");
  std::string data;
  if (GetParam() == "jsonl") data = write_jsonl_dataset(dir.path(), rows);
  if (GetParam() == "tsv") data = write_tsv_dataset(dir.path(), rows);
  if (GetParam() == "csv") data = write_csv_dataset(dir.path(), rows);
  if (GetParam() == "librispeech") data = write_librispeech_dataset(dir.path(), rows);
  const std::string json = dir / "run.json";
  CommandResult r = run_quasr(bench_args({"sb_local"}, data, json));
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json run = read_json(json);
  EXPECT_EQ(schema_violations(run), "");
  EXPECT_EQ(run.at("dataset").at("format"), GetParam());
  EXPECT_EQ(run.at("dataset").at("utterances"), 3);
  expect_exact(run.at("models").at(0), total_words(rows));
  ASSERT_EQ(run.at("utterances").size(), 3u);
  for (size_t k = 0; k < rows.size(); ++k) {
    EXPECT_EQ(run.at("utterances").at(k).at("hyp"), rows[k].text);
    EXPECT_EQ(run.at("utterances").at(k).at("index"), static_cast<int>(k));
  }
  EXPECT_NE(r.err.find("WER 0.00%"), std::string::npos) << r.err;  // the final line
}

INSTANTIATE_TEST_SUITE_P(Layouts, BenchFormats,
                         ::testing::Values("jsonl", "tsv", "csv", "librispeech"));

// Hand-made edits of the references, each exactly one word error:
//   utt0: first word replaced by XYZZY          -> 1 substitution
//   utt1: second word removed from the reference -> 1 insertion
//   utt2: word EXTRA appended to the reference   -> 1 deletion
TEST(Bench, KnownWordErrorsGiveExactWer) {
  TempDir dir;
  std::vector<Row> rows = exact_rows("sb_local");
  const int words = total_words(rows);
  rows[0].text = "XYZZY" + rows[0].text.substr(rows[0].text.find(' '));
  const size_t second = rows[1].text.find(' ') + 1;
  rows[1].text.erase(second, rows[1].text.find(' ', second) - second + 1);
  rows[2].text += " EXTRA";
  ASSERT_EQ(total_words(rows), words);  // -1 +1
  const std::string json = dir / "run.json";
  CommandResult r =
      run_quasr(bench_args({"sb_local"}, write_jsonl_dataset(dir.path(), rows), json));
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json run = read_json(json);
  const nlohmann::json& wer = run.at("models").at(0).at("wer");
  EXPECT_EQ(wer.at("ref_tokens"), words);
  EXPECT_EQ(wer.at("sub"), 1);
  EXPECT_EQ(wer.at("ins"), 1);
  EXPECT_EQ(wer.at("del"), 1);
  EXPECT_EQ(wer.at("sentences_with_error"), 3);
  EXPECT_DOUBLE_EQ(wer.at("error_rate").get<double>(), 100.0 * 3 / words);
  // The alignment of utt0 starts with the substitution.
  const nlohmann::json& first = run.at("utterances").at(0).at("alignment").at(0);
  EXPECT_EQ(first, nlohmann::json::parse(R"(["S", "XYZZY", "S"])"));
}

// Two models on the same utterances. The hf_large_st fixture writes only
// lower-case letters and the SpeechBrain references are upper-case, so no
// word can match: each utterance costs min(ref, hyp) substitutions plus the
// difference in length as deletions or insertions.
TEST(Bench, SeveralModelsSideBySideWithReportAndPlot) {
  TempDir dir;
  const std::vector<Row> rows = exact_rows("sb_local");
  const int words = total_words(rows);
  const std::string json = dir / "run.json";
  std::vector<std::string> args =
      bench_args({"sb_local", "hf_large_st"}, write_tsv_dataset(dir.path(), rows), json);
  args.insert(args.end(), {"--name", "sb", "--name", "hf", "--report", dir / "out/report.md",
                           "--plot", dir / "out/plot.svg"});
  CommandResult r = run_quasr(args);
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json run = read_json(json);
  EXPECT_EQ(schema_violations(run), "");
  ASSERT_EQ(run.at("models").size(), 2u);
  EXPECT_EQ(run.at("models").at(0).at("name"), "sb");  // the baseline comes first
  expect_exact(model_named(run, "sb"), words);
  ASSERT_EQ(run.at("utterances").size(), 6u);
  int sub = 0, del = 0, ins = 0;
  for (const nlohmann::json& u : run.at("utterances")) {
    if (u.at("model") != "hf") continue;
    const std::string hyp = u.at("hyp");
    ASSERT_EQ(hyp.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), std::string::npos) << hyp;
    const int r = count_words(u.at("ref")), h = count_words(hyp);
    sub += std::min(r, h);
    del += std::max(0, r - h);
    ins += std::max(0, h - r);
  }
  const nlohmann::json& hf = model_named(run, "hf");
  EXPECT_EQ(hf.at("wer").at("ref_tokens"), words);
  EXPECT_EQ(hf.at("wer").at("sub"), sub);
  EXPECT_EQ(hf.at("wer").at("del"), del);
  EXPECT_EQ(hf.at("wer").at("ins"), ins);
  EXPECT_DOUBLE_EQ(hf.at("wer").at("error_rate").get<double>(), 100.0 * (sub + del + ins) / words);
  for (const nlohmann::json& m : run.at("models")) {
    EXPECT_EQ(m.at("kind"), "fp32");
    EXPECT_GT(m.at("file_bytes").get<int64_t>(), 0);
    EXPECT_GT(m.at("param_bytes_by_dtype").at("f32").get<int64_t>(), 0);
    EXPECT_GT(m.at("audio_s").get<double>(), 0.0);
    EXPECT_GE(m.at("load_s").get<double>(), 0.0);
    // The engine's stages: all present, each a part of the encoder time.
    const nlohmann::json& parts = m.at("component_s");
    const double encoder = parts.at("encoder").get<double>();
    double stages = 0.0;
    for (const char* stage :
         {"encoder.cnn", "encoder.projection", "encoder.pos_conv", "encoder.attention_linears",
          "encoder.attention_core", "encoder.feed_forward", "encoder.norm_residual", "head"}) {
      ASSERT_TRUE(parts.contains(stage)) << stage;
      EXPECT_GT(parts.at(stage).get<double>(), 0.0) << stage;
      stages += parts.at(stage).get<double>();
    }
    EXPECT_LE(stages, encoder * 1.0001);
    EXPECT_GT(stages, 0.5 * encoder);
  }
  // sb_local weights: wav2vec2.ckpt + asr.ckpt (the tokenizer does not count).
  const std::string sb = fixture_model("sb_local");
  EXPECT_EQ(
      model_named(run, "sb").at("file_bytes").get<int64_t>(),
      static_cast<int64_t>(fs::file_size(sb + "/wav2vec2.ckpt") + fs::file_size(sb + "/asr.ckpt")));
  const nlohmann::json& machine = run.at("machine");
  EXPECT_EQ(machine.at("threads"), 1);
  EXPECT_FALSE(machine.at("isa").get<std::string>().empty());
  EXPECT_FALSE(run.at("quasr").at("version").get<std::string>().empty());
  const std::string report = read_file(dir / "out/report.md");
  EXPECT_NE(report.find("| sb"), std::string::npos);
  EXPECT_NE(report.find("| hf"), std::string::npos);
  EXPECT_NE(report.find("## Where the time goes"), std::string::npos);
  EXPECT_NE(report.find("| encoder.cnn |"), std::string::npos);
  EXPECT_NE(read_file(dir / "out/plot.svg").find("<svg"), std::string::npos);
  EXPECT_NE(r.out.find("| hf"), std::string::npos);  // the table on stdout
}

TEST(Bench, FirstNUtterancesInDatasetOrder) {
  TempDir dir;
  const std::vector<Row> rows = exact_rows("sb_local");
  const std::string json = dir / "run.json";
  std::vector<std::string> args =
      bench_args({"sb_local"}, write_csv_dataset(dir.path(), rows), json);
  args.insert(args.end(), {"--n", "2", "--quiet"});
  CommandResult r = run_quasr(args);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");  // --quiet: no table
  const nlohmann::json run = read_json(json);
  ASSERT_EQ(run.at("utterances").size(), 2u);
  EXPECT_EQ(run.at("utterances").at(0).at("id"), "utt0");
  EXPECT_EQ(run.at("utterances").at(1).at("id"), "utt1");
  EXPECT_EQ(run.at("models").at(0).at("wer").at("ref_tokens"),
            count_words(rows[0].text) + count_words(rows[1].text));
}

// --shuffle uses the data layer's platform-independent Fisher-Yates; for ten
// items and seed 1337 its order starts u9, u4, u8 (checked in the data tests
// against an independent Python MT19937-64).
TEST(Bench, ShuffleWithSeedPicksTheDocumentedOrder) {
  TempDir dir;
  const std::vector<Row> base = exact_rows("sb_local");
  std::vector<Row> rows;
  for (int k = 0; k < 10; ++k) {
    char id[16];
    std::snprintf(id, sizeof id, "u%d", k);
    rows.push_back({id, base[k % 3].source_wav, base[k % 3].text});
  }
  const std::string json = dir / "run.json";
  std::vector<std::string> args =
      bench_args({"sb_local"}, write_jsonl_dataset(dir.path(), rows), json);
  args.insert(args.end(), {"--shuffle", "--seed", "1337", "--n", "3", "--quiet"});
  CommandResult r = run_quasr(args);
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json run = read_json(json);
  ASSERT_EQ(run.at("utterances").size(), 3u);
  EXPECT_EQ(run.at("utterances").at(0).at("id"), "u9");
  EXPECT_EQ(run.at("utterances").at(1).at("id"), "u4");
  EXPECT_EQ(run.at("utterances").at(2).at("id"), "u8");
  EXPECT_EQ(run.at("models").at(0).at("wer").at("error_rate"), 0.0);
}

// A bad row stops the run before anything is timed or written.
struct BadCase {
  std::string name;
  std::string expected_message;
};

class BenchBadInput : public ::testing::TestWithParam<BadCase> {};

TEST_P(BenchBadInput, FailsWithFileAndLineAndWritesNothing) {
  TempDir dir;
  std::vector<Row> rows = exact_rows("sb_local");
  const std::string& name = GetParam().name;
  const std::string data = write_jsonl_dataset(dir.path(), rows);
  if (name == "missing") fs::remove(dir / "utt1.wav");
  if (name == "zero_bytes") write_file(dir / "utt1.wav", "");
  if (name == "zero_frames") {
    // A well-formed WAV header with no samples, as sox writes for empty audio.
    write_empty_wav(dir / "utt1.wav");
  }
  if (name == "not_audio") write_file(dir / "utt1.wav", "utt1 was never recorded\n");
  // Passes the magic-byte sniff, so it is libsndfile's probe that refuses it.
  if (name == "broken_wav") write_file(dir / "utt1.wav", std::string("RIFF\x24\0\0\0WAVEjunk", 16));
  if (name == "empty_transcript") {
    rows[1].text = "";
    write_jsonl_dataset(dir.path(), rows);
  }
  std::vector<std::string> args = bench_args({"sb_local"}, data, dir / "out/run.json");
  args.insert(args.end(), {"--report", dir / "out/report.md", "--results", dir / "out/r.jsonl"});
  CommandResult r = run_quasr(args);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(data + ":2: utt1: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(GetParam().expected_message), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--skip-bad"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out/run.json"));
  EXPECT_FALSE(fs::exists(dir / "out/report.md"));
  EXPECT_FALSE(fs::exists(dir / "out/r.jsonl"));
}

INSTANTIATE_TEST_SUITE_P(Rows, BenchBadInput,
                         ::testing::Values(BadCase{"missing", "audio file not found"},
                                           BadCase{"zero_bytes", "audio file is empty (0 bytes)"},
                                           BadCase{"zero_frames", "no samples"},
                                           BadCase{"not_audio", "not an audio file"},
                                           BadCase{"broken_wav", "utt1.wav"},
                                           BadCase{"empty_transcript", "empty transcript"}),
                         [](const auto& info) { return info.param.name; });

TEST(Bench, SkipBadContinuesAndListsWhatWasSkipped) {
  TempDir dir;
  std::vector<Row> rows = exact_rows("sb_local");
  rows.push_back({"gone", "", "SOME WORDS"});  // no audio file copied
  rows.push_back({"blank", rows[0].source_wav, ""});
  const std::string data = write_tsv_dataset(dir.path(), rows);
  std::vector<std::string> args = bench_args({"sb_local"}, data, dir / "run.json");
  args.insert(args.end(), {"--skip-bad", "--report", dir / "report.md"});
  CommandResult r = run_quasr(args);
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json run = read_json(dir / "run.json");
  EXPECT_EQ(schema_violations(run), "");
  EXPECT_EQ(run.at("dataset").at("utterances"), 3);
  expect_exact(run.at("models").at(0), total_words(exact_rows("sb_local")));
  ASSERT_EQ(run.at("skipped").size(), 2u);
  EXPECT_EQ(run.at("skipped").at(0).at("id"), "gone");
  EXPECT_EQ(run.at("skipped").at(0).at("source"), data + ":5");
  EXPECT_EQ(run.at("skipped").at(1).at("id"), "blank");
  EXPECT_EQ(run.at("skipped").at(1).at("source"), data + ":6");
  EXPECT_EQ(run.at("skipped").at(1).at("reason"), "empty transcript");
  const std::string report = read_file(dir / "report.md");
  EXPECT_NE(report.find("Skipped (2)"), std::string::npos);
  EXPECT_NE(report.find("gone"), std::string::npos);
  EXPECT_NE(r.err.find("2 skipped"), std::string::npos);
}

// --batch-size 2 runs the 3 utterances as a group of 2 and one alone: the
// same transcripts, each utterance charged the group's encoder time in
// proportion to its audio (so a group's utterances share one RTF).
TEST(Bench, BatchSizeGivesTheSameTranscriptsAndSharesTheEncoderTime) {
  TempDir dir;
  const std::vector<Row> rows = exact_rows("sb_local");
  const std::string data = write_tsv_dataset(dir.path(), rows);
  std::vector<std::string> args = bench_args({"sb_local"}, data, dir / "run.json");
  args.insert(args.end(), {"--batch-size", "2"});
  CommandResult r = run_quasr(args);
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json run = read_json(dir / "run.json");
  EXPECT_EQ(schema_violations(run), "");
  EXPECT_EQ(run.at("options").at("batch_size"), 2);
  expect_exact(run.at("models").at(0), total_words(rows));
  const nlohmann::json& utterances = run.at("utterances");
  ASSERT_EQ(utterances.size(), 3u);
  for (size_t k = 0; k < rows.size(); ++k) EXPECT_EQ(utterances.at(k).at("hyp"), rows[k].text);
  auto rtf = [&](size_t k) {
    return utterances.at(k).at("encoder_s").get<double>() /
           utterances.at(k).at("audio_s").get<double>();
  };
  EXPECT_NEAR(rtf(0), rtf(1), 1e-9 * rtf(0));
  for (size_t k = 0; k < rows.size(); ++k) {
    const nlohmann::json& parts = utterances.at(k).at("component_s");
    EXPECT_DOUBLE_EQ(parts.at("encoder").get<double>(),
                     utterances.at(k).at("encoder_s").get<double>());
    EXPECT_GT(parts.at("encoder.feed_forward").get<double>(), 0.0);
  }
}

TEST(Bench, WindowContextThatLeavesNoFrameFailsBeforeAnyWork) {
  TempDir dir;
  const std::string json = dir / "run.json";
  CommandResult r =
      run_quasr({"bench", "--model", fixture_model("sb_local"), "--data", dir / "absent.jsonl",
                 "--max-window-seconds", "8", "--window-context-seconds", "4", "--json", json});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("--window-context-seconds 4: a window of --max-window-seconds 8 would "
                       "keep no frame"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(json));
}

TEST(Bench, UsageErrorsExitWithTwo) {
  EXPECT_EQ(run_quasr({"bench", "--data", "x.jsonl"}).status, 2);  // no --model
  EXPECT_EQ(run_quasr({"bench", "--model", "m", "--data", "x", "--decoder", "beam"}).status, 2);
  EXPECT_EQ(run_quasr({"bench", "--model", "m", "--data", "x", "--normalize", "full"}).status, 2);
  EXPECT_EQ(run_quasr({"bench", "--model", "m", "--data", "x", "--batch-size", "0"}).status, 2);
}

}  // namespace
}  // namespace quasr::clitest
