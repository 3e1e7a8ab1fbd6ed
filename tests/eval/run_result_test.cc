// Run JSON round trip, shard merge, JSONL resume and atomic writes.
#include "eval/run_result.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "eval/result_files.h"
#include "eval/schema_check.h"

namespace quasr {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("quasr_eval_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  fs::path path_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Nine utterances x two models with uneven timings; refs/hyps with known errors.
std::vector<UtteranceResult> fake_utterances() {
  const char* refs[] = {"the cat sat", "a b",  "hello world", "one two three", "x",
                        "go go go",    "four", "alpha beta",  "end of it"};
  const char* hyps_fp32[] = {"the cat sat", "b a", "hello",      "one two three", "x",
                             "go go",       "for", "alpha beta", "end of it all"};
  std::vector<UtteranceResult> all;
  for (const std::string model : {"fp32", "int8"}) {
    for (int k = 0; k < 9; ++k) {
      UtteranceResult u;
      u.model = model;
      u.id = "utt" + std::to_string(k);
      u.index = k;
      u.audio_s = 1.0 + 0.37 * k;
      u.encoder_s = (model == "fp32" ? 0.1 : 0.03) * (1.0 + 0.11 * ((k * 7) % 9));
      u.e2e_s = u.encoder_s + 0.013 * (k + 1);
      u.component_s = {{"encoder", u.encoder_s}, {"audio_decode", 0.013 * (k + 1)}};
      u.ref = refs[k];
      u.hyp = model == "fp32" ? hyps_fp32[k] : refs[k];
      score_utterance(u);
      all.push_back(u);
    }
  }
  return all;
}

RunResult fake_run(const std::vector<UtteranceResult>& utterances) {
  RunResult run;
  run.quasr_version = "0.1.0";
  run.quasr_commit = "abc1234";
  run.created_utc = "2026-11-27T10:00:00Z";
  run.machine = {"Test CPU @ 3GHz", "avx512vnni", 8, "host"};
  run.dataset = {"data/dev.tsv", "tsv", 9, 22.32, 0, 1};
  run.options = {{"warmup", 2}, {"decoder", "greedy"}};
  ModelResult fp32;
  fp32.name = "fp32";
  fp32.path = "models/fp32";
  fp32.kind = "fp32";
  fp32.load_s = 1.25;
  fp32.file_bytes = 1000;
  fp32.peak_rss_bytes = 5000;
  fp32.param_bytes_by_dtype = {{"f32", 1000}};
  ModelResult int8 = fp32;
  int8.name = "int8";
  int8.path = "models/int8";
  int8.kind = "int8-dynamic";
  int8.param_bytes_by_dtype = {{"s8", 250}, {"f32", 40}};
  run.models = {fp32, int8};
  run.utterances = utterances;
  finalize_run(run);
  return run;
}

TEST(FinalizeRun, TotalsFromUtterances) {
  const RunResult run = fake_run(fake_utterances());
  const ModelResult& fp32 = run.models[0];
  // By hand: "b a" vs "a b" D+I, "hello" D, "go go" D, "for" S, "all" I.
  EXPECT_EQ(fp32.wer.ref_words, 20);
  EXPECT_EQ(fp32.wer.ins, 2);
  EXPECT_EQ(fp32.wer.del, 3);
  EXPECT_EQ(fp32.wer.sub, 1);
  EXPECT_EQ(fp32.wer.sentences, 9);
  EXPECT_EQ(fp32.wer.sentences_with_error, 5);
  EXPECT_EQ(run.models[1].wer.errors(), 0);
  EXPECT_EQ(fp32.utterances, 9);
  EXPECT_NEAR(fp32.audio_s, 9.0 + 0.37 * 36, 1e-12);
  EXPECT_DOUBLE_EQ(fp32.rtf, fp32.encoder_s / fp32.audio_s);
  EXPECT_DOUBLE_EQ(fp32.rtfx, 1.0 / fp32.rtf);
  EXPECT_DOUBLE_EQ(fp32.component_s.at("encoder"), fp32.encoder_s);
}

TEST(RunJson, RoundTripsExactly) {
  const RunResult run = fake_run(fake_utterances());
  const std::string text = to_json(run).dump(2);
  const RunResult back = run_from_json(nlohmann::json::parse(text), "test");
  EXPECT_EQ(back, run);
  EXPECT_THROW(run_from_json(nlohmann::json::parse("{\"schema_version\": 1}"), "x.json"), Error);
}

TEST(Merge, ThreeShardsEqualOneRun) {
  const std::vector<UtteranceResult> all = fake_utterances();
  const RunResult whole = fake_run(all);
  TempDir dir;
  std::vector<RunResult> shards;
  // Shards complete in different orders; merge must not care.
  for (int s = 2; s >= 0; --s) {
    std::vector<UtteranceResult> part;
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (it->index % 3 == s) part.push_back(*it);
    }
    RunResult shard = fake_run(part);
    shard.dataset.shard_index = s;
    shard.dataset.shard_count = 3;
    shard.dataset.utterances = 3;
    const std::string path = dir.file("shard" + std::to_string(s) + ".json");
    write_run_file(path, shard);
    shards.push_back(read_run_file(path));
  }
  const RunResult merged = merge_runs(shards);
  ASSERT_EQ(merged.models.size(), 2u);
  for (size_t m = 0; m < 2; ++m) {
    EXPECT_EQ(merged.models[m], whole.models[m]) << merged.models[m].name;
  }
  EXPECT_EQ(merged.utterances, whole.utterances);
  EXPECT_EQ(merged.merged_from, 3);
  EXPECT_EQ(merged.dataset.utterances, 9);
  EXPECT_EQ(merged.dataset.shard_count, 1);

  EXPECT_THROW(merge_runs({shards[0], shards[0], shards[1]}), Error);  // shard given twice
  EXPECT_THROW(merge_runs({shards[0], shards[1]}), Error);             // one missing
}

TEST(Merge, RejectsOverlappingUtterances) {
  const RunResult run = fake_run(fake_utterances());
  EXPECT_THROW(merge_runs({run, run}, {"a.json", "b.json"}), Error);
}

TEST(JsonlResume, TornLastLineIsIgnoredAndTotalsMatch) {
  TempDir dir;
  const std::string path = dir.file("utts.jsonl");
  const std::vector<UtteranceResult> all = fake_utterances();
  {
    JsonlAppender out(path);
    for (size_t k = 0; k < 5; ++k) out.append(all[k]);
  }
  // Simulate a kill in the middle of the sixth line.
  const std::string sixth = to_json(all[5]).dump();
  std::ofstream(path, std::ios::binary | std::ios::app) << sixth.substr(0, sixth.size() / 2);

  JsonlLoadResult loaded = load_utterance_jsonl(path);
  EXPECT_TRUE(loaded.torn_last_line);
  ASSERT_EQ(loaded.records.size(), 5u);
  EXPECT_EQ(loaded.records[4], all[4]);
  const std::set<std::string> ids = done_ids(loaded.records, "fp32");
  EXPECT_EQ(ids, (std::set<std::string>{"utt0", "utt1", "utt2", "utt3", "utt4"}));

  {  // Resume: skip what is done, append the rest.
    JsonlAppender out(path);
    const auto done = done_keys(loaded.records);
    for (const UtteranceResult& u : all) {
      if (!done.count({u.model, u.id})) out.append(u);
    }
  }
  loaded = load_utterance_jsonl(path);
  EXPECT_FALSE(loaded.torn_last_line);
  ASSERT_EQ(loaded.records.size(), all.size());
  const RunResult resumed = fake_run(loaded.records);
  const RunResult uninterrupted = fake_run(all);
  EXPECT_EQ(resumed.models, uninterrupted.models);
}

TEST(JsonlResume, CompleteRecordMissingOnlyItsNewlineIsKept) {
  TempDir dir;
  const std::string path = dir.file("utts.jsonl");
  const std::vector<UtteranceResult> all = fake_utterances();
  std::ofstream(path, std::ios::binary) << to_json(all[0]).dump();  // no '\n'
  EXPECT_EQ(load_utterance_jsonl(path).records.size(), 1u);
  {
    JsonlAppender out(path);
    out.append(all[1]);
  }
  const JsonlLoadResult loaded = load_utterance_jsonl(path);
  ASSERT_EQ(loaded.records.size(), 2u);
  EXPECT_EQ(loaded.records[0], all[0]);
  EXPECT_EQ(loaded.records[1], all[1]);
}

TEST(JsonlResume, CorruptMiddleLineNamesFileAndLine) {
  TempDir dir;
  const std::string path = dir.file("utts.jsonl");
  std::ofstream(path) << to_json(fake_utterances()[0]).dump() << "\n{broken\n"
                      << to_json(fake_utterances()[1]).dump() << "\n";
  try {
    load_utterance_jsonl(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("utts.jsonl:2"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(load_utterance_jsonl(dir.file("absent.jsonl")).records.empty());
}

TEST(AtomicWrite, ReplacesContentAndLeavesNoTemporary) {
  TempDir dir;
  const std::string path = dir.file("run.json");
  write_file_atomic(path, "old");
  write_file_atomic(path, "new content\n");
  EXPECT_EQ(slurp(path), "new content\n");
  EXPECT_EQ(dir.names(), std::vector<std::string>{"run.json"});
  EXPECT_THROW(write_file_atomic(dir.file("no/such/dir/run.json"), "x"), Error);
  EXPECT_EQ(dir.names(), std::vector<std::string>{"run.json"});
}

nlohmann::json load_schema() {
  std::ifstream in(QUASR_SCHEMA_FILE);
  EXPECT_TRUE(in) << QUASR_SCHEMA_FILE;
  return nlohmann::json::parse(in);
}

TEST(Schema, RunJsonValidates) {
  const nlohmann::json schema = load_schema();
  EXPECT_EQ(schema["properties"]["schema_version"]["const"], kBenchSchemaVersion);
  RunResult run = fake_run(fake_utterances());
  run.skipped.push_back({"u9", "list.tsv:10", "empty transcript"});
  ModelResult unused;  // no utterances: NaN rates and latencies become null
  unused.name = "unused";
  run.models.push_back(unused);
  finalize_run(run);
  const nlohmann::json doc = nlohmann::json::parse(to_json(run).dump());
  const std::vector<std::string> errors = check_json_schema(schema, doc);
  EXPECT_TRUE(errors.empty()) << errors.front();
  // Each JSONL line is a $defs/utterance.
  const nlohmann::json utterance_schema = {{"$ref", "#/$defs/utterance"},
                                           {"$defs", schema["$defs"]}};
  EXPECT_TRUE(check_json_schema(utterance_schema, to_json(run.utterances[1])).empty());
}

TEST(Schema, CatchesDrift) {
  const nlohmann::json schema = load_schema();
  nlohmann::json doc = to_json(fake_run(fake_utterances()));
  doc["models"][0].erase("rtf");
  doc["models"][1]["wer"]["ins"] = "3";
  doc["machine"]["extra"] = 1;
  doc["utterances"][0]["alignment"][0][0] = "X";
  const std::vector<std::string> errors = check_json_schema(schema, doc);
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(errors[0], "/machine: unexpected key \"extra\"");
  EXPECT_EQ(errors[1], "/models/0: missing key \"rtf\"");
  EXPECT_EQ(errors[2], "/models/1/wer/ins: expected type \"integer\", got string");
  EXPECT_EQ(errors[3], "/utterances/0/alignment/0/0: value \"X\" not in [\"C\",\"S\",\"D\",\"I\"]");
}

}  // namespace
}  // namespace quasr
