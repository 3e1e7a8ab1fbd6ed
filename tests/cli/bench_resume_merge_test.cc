// Exactness across process boundaries: --shard + merge equals one run,
// --resume after a torn or interrupted results log equals an uninterrupted
// run, and Ctrl-C leaves a valid partial log.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "bench_test_util.h"

namespace quasr::clitest {
namespace {

namespace fs = std::filesystem;

// Seven utterances (the three fixture recordings reused). Two references are
// edited: s3 gains a word (one deletion), s5 loses its first (one insertion).
std::vector<Row> seven_rows() {
  const std::vector<Row> base = exact_rows("sb_local");
  std::vector<Row> rows;
  for (int k = 0; k < 7; ++k) {
    char id[16];  // snprintf: GCC 12 -Wrestrict warns falsely on "s" + to_string(k)
    std::snprintf(id, sizeof id, "s%d", k);
    rows.push_back({id, base[k % 3].source_wav, base[k % 3].text});
  }
  rows[3].text += " EXTRA";
  rows[5].text = rows[5].text.substr(rows[5].text.find(' ') + 1);
  return rows;
}

std::vector<std::string> bench_args(const std::string& data, const std::string& json) {
  return {"bench",
          "--model",
          fixture_model("sb_local"),
          "--model",
          fixture_model("hf_large_st"),
          "--data",
          data,
          "--warmup",
          "1",
          "--threads",
          "1",
          "--json",
          json,
          "--quiet"};
}

// What must not depend on how the work was split: every count, and each
// utterance's scored text and alignment.
void expect_same_scores(const nlohmann::json& a, const nlohmann::json& b) {
  ASSERT_EQ(a.at("models").size(), b.at("models").size());
  for (size_t m = 0; m < a.at("models").size(); ++m) {
    const nlohmann::json& ma = a.at("models").at(m);
    const nlohmann::json& mb = b.at("models").at(m);
    EXPECT_EQ(ma.at("name"), mb.at("name"));
    EXPECT_EQ(ma.at("wer"), mb.at("wer"));
    EXPECT_EQ(ma.at("cer"), mb.at("cer"));
    EXPECT_EQ(ma.at("utterances"), mb.at("utterances"));
    EXPECT_EQ(ma.at("audio_s"), mb.at("audio_s"));
  }
  ASSERT_EQ(a.at("utterances").size(), b.at("utterances").size());
  for (size_t k = 0; k < a.at("utterances").size(); ++k) {
    const nlohmann::json& ua = a.at("utterances").at(k);
    const nlohmann::json& ub = b.at("utterances").at(k);
    for (const char* key : {"model", "id", "index", "ref", "hyp", "words", "chars", "alignment"}) {
      EXPECT_EQ(ua.at(key), ub.at(key)) << key << " of utterance " << k;
    }
  }
  EXPECT_EQ(a.at("dataset").at("utterances"), b.at("dataset").at("utterances"));
}

TEST(BenchMerge, ThreeShardsMergeToTheUnshardedRun) {
  TempDir dir;
  const std::string data = write_jsonl_dataset(dir.path(), seven_rows());
  CommandResult whole = run_quasr(bench_args(data, dir / "whole.json"));
  ASSERT_EQ(whole.status, 0) << whole.err;
  std::vector<std::string> merge = {"merge"};
  std::vector<int> sizes;
  for (int i = 0; i < 3; ++i) {
    const std::string shard_json = dir / ("shard" + std::to_string(i) + ".json");
    std::vector<std::string> args = bench_args(data, shard_json);
    args.insert(args.end(), {"--shard", std::to_string(i) + "/3"});
    CommandResult r = run_quasr(args);
    ASSERT_EQ(r.status, 0) << r.err;
    const nlohmann::json shard = read_json(shard_json);
    EXPECT_EQ(schema_violations(shard), "");
    EXPECT_EQ(shard.at("dataset").at("shard").at("index"), i);
    sizes.push_back(shard.at("dataset").at("utterances"));
    merge.push_back(shard_json);
  }
  EXPECT_EQ(sizes, (std::vector<int>{3, 2, 2}));  // items k with k % 3 == i
  merge.insert(merge.end(), {"--json", dir / "merged.json", "--report", dir / "merged.md"});
  CommandResult m = run_quasr(merge);
  ASSERT_EQ(m.status, 0) << m.err;
  const nlohmann::json merged = read_json(dir / "merged.json");
  EXPECT_EQ(schema_violations(merged), "");
  EXPECT_EQ(merged.at("merged_from"), 3);
  EXPECT_EQ(merged.at("dataset").at("shard").at("count"), 1);
  const nlohmann::json unsharded = read_json(dir / "whole.json");
  expect_same_scores(merged, unsharded);
  // The edits above: one deletion (s3) and one insertion (s5) for sb_local.
  const nlohmann::json& wer = merged.at("models").at(0).at("wer");
  EXPECT_EQ(wer.at("del"), 1);
  EXPECT_EQ(wer.at("ins"), 1);
  EXPECT_EQ(wer.at("sub"), 0);
  EXPECT_TRUE(fs::exists(dir / "merged.md"));

  // A shard given twice, or one missing, is refused.
  CommandResult twice =
      run_quasr({"merge", merge[1], merge[1], merge[2], "--json", dir / "x.json"});
  EXPECT_EQ(twice.status, 1);
  CommandResult missing = run_quasr({"merge", merge[1], merge[2], "--json", dir / "x.json"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("missing"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(dir / "x.json"));

  // Shards scored with other options do not add up to one evaluation.
  nlohmann::json other = read_json(merge[3]);
  other["options"]["normalize"] = "basic";
  write_file(dir / "other.json", other.dump());
  CommandResult mixed =
      run_quasr({"merge", merge[1], merge[2], dir / "other.json", "--json", dir / "x.json"});
  EXPECT_EQ(mixed.status, 1);
  EXPECT_NE(mixed.err.find("option normalize"), std::string::npos) << mixed.err;
  CommandResult absent = run_quasr({"merge", dir / "nope.json", "--json", dir / "x.json"});
  EXPECT_EQ(absent.status, 1);
  EXPECT_NE(absent.err.find("nope.json"), std::string::npos) << absent.err;
  EXPECT_FALSE(fs::exists(dir / "x.json"));
}

TEST(BenchResume, TornLogResumesToTheUninterruptedTotals) {
  TempDir dir;
  const std::string data = write_tsv_dataset(dir.path(), seven_rows());
  std::vector<std::string> full = bench_args(data, dir / "full.json");
  full.insert(full.end(), {"--results", dir / "full.jsonl"});
  CommandResult r = run_quasr(full);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::vector<std::string> lines = read_lines(dir / "full.jsonl");
  ASSERT_EQ(lines.size(), 14u);  // 7 utterances x 2 models

  // Four complete records and half of the fifth, as a crash mid-write leaves it.
  std::string partial;
  for (int k = 0; k < 4; ++k) partial += lines[k] + "\n";
  partial += lines[4].substr(0, lines[4].size() / 2);
  write_file(dir / "part.jsonl", partial);
  std::vector<std::string> resume = bench_args(data, dir / "resumed.json");
  resume.insert(resume.end(), {"--results", dir / "part.jsonl", "--resume"});
  r = run_quasr(resume);
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json resumed = read_json(dir / "resumed.json");
  EXPECT_EQ(schema_violations(resumed), "");
  expect_same_scores(resumed, read_json(dir / "full.json"));
  EXPECT_EQ(read_lines(dir / "part.jsonl").size(), 14u);  // torn line replaced
  for (const std::string& line : read_lines(dir / "part.jsonl")) {
    EXPECT_TRUE(nlohmann::json::accept(line)) << line;
  }
}

TEST(BenchResume, InterruptLeavesAValidLogAndResumeCompletesIt) {
  TempDir dir;
  const std::string data = write_jsonl_dataset(dir.path(), seven_rows());
  std::vector<std::string> args = bench_args(data, dir / "run.json");
  args.insert(args.end(), {"--results", dir / "run.jsonl", "--report", dir / "run.md"});
  // The binary raises SIGINT on itself after 9 results (all 7 of the first
  // model, 2 of the second): the path a Ctrl-C at that moment takes.
  CommandResult r = run_quasr(args, {{"QUASR_BENCH_INTERRUPT_AFTER", "9"}});
  EXPECT_EQ(r.status, 130) << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "run.json"));
  EXPECT_FALSE(fs::exists(dir / "run.md"));
  const std::vector<std::string> lines = read_lines(dir / "run.jsonl");
  ASSERT_EQ(lines.size(), 9u);
  for (const std::string& line : lines) {
    EXPECT_TRUE(nlohmann::json::accept(line)) << line;
  }

  // Without --resume an existing log is not overwritten.
  CommandResult refused = run_quasr(args);
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("--resume"), std::string::npos) << refused.err;
  EXPECT_EQ(read_lines(dir / "run.jsonl").size(), 9u);

  args.push_back("--resume");
  r = run_quasr(args);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_lines(dir / "run.jsonl").size(), 14u);
  std::vector<std::string> once = bench_args(data, dir / "once.json");
  ASSERT_EQ(run_quasr(once).status, 0);
  expect_same_scores(read_json(dir / "run.json"), read_json(dir / "once.json"));
}

TEST(BenchResume, ResumeWithOtherNormalizationIsRefused) {
  TempDir dir;
  const std::string data = write_jsonl_dataset(dir.path(), exact_rows("hf_large_st"));
  std::vector<std::string> args = {"bench",
                                   "--model",
                                   fixture_model("hf_large_st"),
                                   "--data",
                                   data,
                                   "--warmup",
                                   "0",
                                   "--quiet",
                                   "--results",
                                   dir / "r.jsonl"};
  ASSERT_EQ(run_quasr(args).status, 0);
  args.insert(args.end(), {"--resume", "--normalize", "basic"});
  CommandResult r = run_quasr(args);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("different reference"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace quasr::clitest
