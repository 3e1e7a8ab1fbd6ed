// Dataset readers on the small layouts under tests/fixtures/data/.
#include "data/readers.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "data/dataset.h"

namespace quasr {
namespace {

const std::string kData = std::string(QUASR_FIXTURE_DIR) + "/data";

std::vector<std::string> ids_of(const std::vector<Utterance>& items) {
  std::vector<std::string> ids;
  for (const Utterance& u : items) ids.push_back(u.id);
  return ids;
}

TEST(LibriSpeechTree, ReadsLikeGetSamplesSortedById) {
  const std::vector<Utterance> u = read_librispeech_tree(kData + "/librispeech");
  const std::vector<std::string> expected = {"1272-128104-0000", "1272-128104-0002",
                                             "84-121123-0000", "84-121123-0001"};
  ASSERT_EQ(ids_of(u), expected);
  // CRLF and the trailing blank line are gone; the text is everything after the first space.
  EXPECT_EQ(u[0].text, "MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES");
  EXPECT_EQ(u[1].text,
            "HE HAS GRAVE DOUBTS WHETHER SIR FREDERICK LEIGHTON'S WORK IS REALLY GREEK AFTER ALL");
  EXPECT_EQ(u[3].text, "GO DO YOU HEAR");
  EXPECT_EQ(u[2].audio_path, kData + "/librispeech/84/121123/84-121123-0000.flac");
  EXPECT_EQ(u[2].source, kData + "/librispeech/84/121123/84-121123.trans.txt:2");
  EXPECT_EQ(u[0].source, kData + "/librispeech/1272/128104/1272-128104.trans.txt:2");
  EXPECT_DOUBLE_EQ(u[0].duration_s, -1.0);
  EXPECT_THROW(read_librispeech_tree(kData + "/tsv"), Error);  // no trans.txt there
}

TEST(SpeechBrainCsv, AnyColumnOrderQuotesBomCrlfAndDataRoot) {
  const std::vector<Utterance> u = read_speechbrain_csv(kData + "/csv/test.csv", "/mnt/corpus");
  ASSERT_EQ(ids_of(u), (std::vector<std::string>{"a1", "a2", "a3"}));
  EXPECT_EQ(u[0].text, "hello, world");
  EXPECT_EQ(u[0].audio_path, "/mnt/corpus/a1.wav");
  EXPECT_DOUBLE_EQ(u[0].duration_s, 1.5);
  // Spaces after commas are skipped; UTF-8 kept byte for byte.
  EXPECT_EQ(u[1].text, "Z\xC3\x9CRICH STRASSE \xE6\x9D\xB1\xE4\xBA\xAC");
  EXPECT_EQ(u[1].audio_path, "/mnt/corpus/a2.wav");
  EXPECT_DOUBLE_EQ(u[1].duration_s, 2.25);
  EXPECT_EQ(u[2].text, "say \"hi\"");
  EXPECT_EQ(u[2].source, kData + "/csv/test.csv:4");
}

TEST(SpeechBrainCsv, DataRootIsRequiredWhenUsed) {
  try {
    read_speechbrain_csv(kData + "/csv/test.csv", "");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test.csv:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("$data_root"), std::string::npos) << e.what();
  }
}

TEST(JsonlManifest, RelativePathsOptionalFieldsUtf8) {
  const std::vector<Utterance> u = read_jsonl_manifest(kData + "/jsonl/manifest.jsonl");
  ASSERT_EQ(ids_of(u), (std::vector<std::string>{"clips/c1", "clips/c2", "third"}));
  EXPECT_EQ(u[0].audio_path, kData + "/jsonl/clips/c1.flac");
  EXPECT_DOUBLE_EQ(u[0].duration_s, 3.5);
  EXPECT_EQ(u[1].text, "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD0\xBC\xD0\xB8\xD1\x80");
  EXPECT_DOUBLE_EQ(u[1].duration_s, -1.0);
  EXPECT_EQ(u[2].text, "third one");
  EXPECT_EQ(u[2].audio_path, kData + "/jsonl/c3.flac");
  EXPECT_EQ(u[2].source, kData + "/jsonl/manifest.jsonl:4");  // the blank line 3 counts
}

TEST(JsonlManifest, JsonArrayForm) {
  const std::vector<Utterance> u =
      read_utterances(kData + "/jsonl/manifest.json", DatasetFormat::kAuto);
  ASSERT_EQ(ids_of(u), (std::vector<std::string>{"clips/c2", "c3"}));
  EXPECT_EQ(u[1].text, "second");
}

TEST(TsvManifest, HeaderCrlfNoTrailingNewline) {
  const std::vector<Utterance> u = read_tsv_manifest(kData + "/tsv/list.tsv");
  ASSERT_EQ(ids_of(u), (std::vector<std::string>{"wavs/t1", "wavs/t2"}));
  EXPECT_EQ(u[0].text, "caf\xC3\xA9 au lait");
  EXPECT_EQ(u[0].audio_path, kData + "/tsv/wavs/t1.wav");
  EXPECT_EQ(u[1].text, "second line");
  EXPECT_EQ(u[1].source, kData + "/tsv/list.tsv:3");
  const std::vector<Utterance> bare = read_tsv_manifest(kData + "/tsv/noheader.tsv");
  ASSERT_EQ(ids_of(bare), (std::vector<std::string>{"wavs/t2"}));
}

TEST(FormatDetection, ByPathKind) {
  EXPECT_EQ(detect_dataset_format(kData + "/librispeech"), DatasetFormat::kLibriSpeech);
  EXPECT_EQ(detect_dataset_format(kData + "/csv/test.csv"), DatasetFormat::kSpeechBrainCsv);
  EXPECT_EQ(detect_dataset_format(kData + "/jsonl/manifest.jsonl"), DatasetFormat::kJsonl);
  EXPECT_EQ(detect_dataset_format(kData + "/jsonl/manifest.json"), DatasetFormat::kJsonl);
  EXPECT_EQ(detect_dataset_format(kData + "/tsv/list.tsv"), DatasetFormat::kTsv);
  EXPECT_THROW(detect_dataset_format(kData + "/csv/audio/a1.wav"), Error);
  EXPECT_THROW(detect_dataset_format(kData + "/nope"), Error);
  EXPECT_EQ(parse_dataset_format("tsv"), DatasetFormat::kTsv);
  EXPECT_EQ(dataset_format_name(DatasetFormat::kSpeechBrainCsv), "csv");
  EXPECT_THROW(parse_dataset_format("parquet"), Error);
}

}  // namespace
}  // namespace quasr
