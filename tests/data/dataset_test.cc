// Selection (--shuffle/--n/--shard) and validation of datasets.
#include "data/dataset.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace quasr {
namespace {

namespace fs = std::filesystem;
const std::string kData = std::string(QUASR_FIXTURE_DIR) + "/data";

std::vector<Utterance> numbered(int count) {
  std::vector<Utterance> items;
  for (int k = 0; k < count; ++k) {
    Utterance u;
    u.id = "u" + std::to_string(k);
    items.push_back(u);
  }
  return items;
}

std::vector<std::string> ids_of(const std::vector<Utterance>& items) {
  std::vector<std::string> ids;
  for (const Utterance& u : items) ids.push_back(u.id);
  return ids;
}

TEST(Shuffle, SeedFixesTheOrderOnEveryPlatform) {
  std::vector<Utterance> items = numbered(10);
  shuffle_utterances(items, 1337);
  // Computed once with this implementation and checked against an independent
  // Python MT19937-64 + the same rejection Fisher-Yates.
  const std::vector<std::string> expected = {"u9", "u4", "u8", "u6", "u3",
                                             "u1", "u5", "u2", "u7", "u0"};
  EXPECT_EQ(ids_of(items), expected);
  std::vector<std::string> sorted = ids_of(items);
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string> original = ids_of(numbered(10));
  std::sort(original.begin(), original.end());
  EXPECT_EQ(sorted, original);  // a permutation

  std::vector<Utterance> again = numbered(10);
  shuffle_utterances(again, 1337);
  EXPECT_EQ(ids_of(again), expected);
  std::vector<Utterance> other = numbered(10);
  shuffle_utterances(other, 1338);
  EXPECT_NE(ids_of(other), expected);
}

TEST(Shuffle, GeneratorIsTheStandardMt19937_64) {
  // The C++ standard fixes the 10000th output for the default seed.
  std::mt19937_64 rng;
  rng.discard(9999);
  EXPECT_EQ(rng(), 9981545732273789042ull);
}

TEST(Shuffle, UniformBelowStaysInRange) {
  std::mt19937_64 rng(7);
  for (uint64_t bound : {1ull, 2ull, 3ull, 10ull, (1ull << 63) + 1}) {
    for (int k = 0; k < 100; ++k) EXPECT_LT(uniform_below(rng, bound), bound);
  }
}

TEST(Shard, ParsesZeroBasedIndexOverCount) {
  const ShardSpec s = parse_shard("2/3");
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 3);
  for (const char* bad : {"3/3", "-1/3", "1/0", "1", "a/b", "1/3x", ""}) {
    EXPECT_THROW(parse_shard(bad), Error) << bad;
  }
}

TEST(Shard, PartitionCoversEveryUtteranceOnce) {
  const std::vector<Utterance> items = numbered(10);
  std::vector<std::string> seen;
  for (int i = 0; i < 3; ++i) {
    const std::vector<Utterance> part = select_shard(items, {i, 3});
    for (const Utterance& u : part) seen.push_back(u.id);
  }
  EXPECT_EQ(ids_of(select_shard(items, {1, 3})), (std::vector<std::string>{"u1", "u4", "u7"}));
  std::sort(seen.begin(), seen.end());
  std::vector<std::string> all = ids_of(items);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(seen, all);
}

TEST(LoadDataset, FirstNThenShardKeepsDatasetIndex) {
  DatasetOptions options;
  options.n = 3;
  options.shard = {1, 2};
  const Dataset d = load_dataset(kData + "/librispeech", options);
  EXPECT_EQ(d.format, DatasetFormat::kLibriSpeech);
  EXPECT_EQ(d.total, 4);
  ASSERT_EQ(d.utterances.size(), 1u);
  EXPECT_EQ(d.utterances[0].id, "1272-128104-0002");
  EXPECT_EQ(d.utterances[0].index, 1);
}

TEST(LoadDataset, ShardsOfAShuffledRunPartitionIt) {
  DatasetOptions options;
  options.shuffle = true;
  options.seed = 1337;
  options.data_root = kData + "/csv/audio";
  const Dataset whole = load_dataset(kData + "/csv/test.csv", options);
  EXPECT_DOUBLE_EQ(whole.known_duration_s(), 4.5);
  std::vector<Utterance> merged;
  for (int i = 0; i < 2; ++i) {
    options.shard = {i, 2};
    const Dataset part = load_dataset(kData + "/csv/test.csv", options);
    merged.insert(merged.end(), part.utterances.begin(), part.utterances.end());
  }
  std::sort(merged.begin(), merged.end(),
            [](const Utterance& a, const Utterance& b) { return a.index < b.index; });
  EXPECT_EQ(merged, whole.utterances);
}

class BadData : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("quasr_data_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "good.flac", std::ios::binary) << std::string("fLaC\0\0\0\0", 8);
    fs::copy_file(dir_ / "good.flac", dir_ / "good2.flac");
    std::ofstream(dir_ / "empty.flac", std::ios::binary);
    std::ofstream(dir_ / "text.flac", std::ios::binary) << "hello, not audio";
    std::ofstream(dir_ / "list.tsv", std::ios::binary) << "good.flac\tfine\n"
                                                       << "missing.flac\tgone\n"
                                                       << "good2.flac\t   \n"
                                                       << "empty.flac\tzero bytes\n"
                                                       << "text.flac\tnot audio\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string list() const { return (dir_ / "list.tsv").string(); }
  fs::path dir_;
};

TEST_F(BadData, StopsAtTheFirstBadRowNamingFileAndLine) {
  try {
    load_dataset(list(), DatasetOptions{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("list.tsv:2: missing: audio file not found"), std::string::npos)
        << message;
    EXPECT_NE(message.find("and 3 more bad"), std::string::npos) << message;
  }
}

TEST_F(BadData, SkipBadCollectsEachReason) {
  DatasetOptions options;
  options.skip_bad = true;
  const Dataset d = load_dataset(list(), options);
  ASSERT_EQ(d.utterances.size(), 1u);
  EXPECT_EQ(d.utterances[0].id, "good");
  ASSERT_EQ(d.skipped.size(), 4u);
  EXPECT_EQ(d.skipped[0].source, list() + ":2");
  EXPECT_NE(d.skipped[0].reason.find("audio file not found"), std::string::npos);
  EXPECT_EQ(d.skipped[1].source, list() + ":3");
  EXPECT_EQ(d.skipped[1].reason, "empty transcript");
  EXPECT_NE(d.skipped[2].reason.find("0 bytes"), std::string::npos) << d.skipped[2].reason;
  EXPECT_NE(d.skipped[3].reason.find("not an audio file"), std::string::npos);
}

TEST_F(BadData, DuplicateIdsAreAParseError) {
  std::ofstream(dir_ / "dup.tsv", std::ios::binary) << "good.flac\ta\ngood.flac\tb\n";
  try {
    read_utterances((dir_ / "dup.tsv").string(), DatasetFormat::kTsv);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dup.tsv:2: duplicate utterance id 'good'"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace quasr
