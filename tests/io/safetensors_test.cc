#include "io/safetensors.h"

#include <cstring>

#include "io/torch_checkpoint.h"
#include "test_util.h"

namespace quasr {
namespace {

using test::ScratchDir;

// A file from a header text and data bytes, laid out as the format describes.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(n >> (8 * i));
  return bytes + header + data;
}

class SafetensorsCorruption : public ::testing::Test {
 protected:
  std::string load_error(const std::string& bytes, const std::vector<std::string>& needles) {
    std::string path = dir_.file("bad.safetensors");
    test::write_file(path, bytes);
    std::vector<std::string> all = needles;
    all.push_back(path);
    return test::expect_error([&] { load_safetensors(path); }, all);
  }
  ScratchDir dir_;
};

TEST(Safetensors, RoundTripWithMetadata) {
  ScratchDir dir;
  std::vector<float> w = {1.0f, -2.5f, 3.0f, 0.125f, 5.0f, 6.0f};
  std::vector<int8_t> q = {-128, 0, 127};
  std::vector<int64_t> n = {12345678901};
  std::vector<std::pair<std::string, RawTensor>> tensors = {
      {"w", {DType::kF32, {2, 3}, reinterpret_cast<const std::byte*>(w.data()), 24}},
      {"q", {DType::kI8, {3}, reinterpret_cast<const std::byte*>(q.data()), 3}},
      {"n", {DType::kI64, {}, reinterpret_cast<const std::byte*>(n.data()), 8}},
      {"empty", {DType::kF16, {0, 2}, nullptr, 0}},
  };
  save_safetensors(dir.file("m.safetensors"), tensors, {{"format", "quasr-int8"}, {"k", "v"}});
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.safetensors"});

  StateDict back = load_safetensors(dir.file("m.safetensors"));
  EXPECT_EQ(back.names(), (std::vector<std::string>{"w", "q", "n", "empty"}));
  EXPECT_EQ(back.get_f32("w", {2, 3}), w);
  const RawTensor& rq = back.get("q");
  EXPECT_EQ(rq.dtype, DType::kI8);
  EXPECT_EQ(std::memcmp(rq.data, q.data(), 3), 0);
  EXPECT_EQ(back.get_i64_scalar("n"), 12345678901);
  EXPECT_EQ(back.get("empty").shape, (Shape{0, 2}));
  EXPECT_EQ(back.metadata(),
            (std::map<std::string, std::string>{{"format", "quasr-int8"}, {"k", "v"}}));

  // Header padded with spaces so the data section starts on a 64-byte boundary.
  std::string bytes = test::read_file(dir.file("m.safetensors"));
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = header_size << 8 | static_cast<uint8_t>(bytes[i]);
  EXPECT_EQ((8 + header_size) % 64, 0u);
  EXPECT_EQ(bytes[8 + header_size - 1], ' ');
  EXPECT_EQ(bytes.size(), 8 + header_size + 24 + 3 + 8);
}

TEST(Safetensors, SavesAStateDictAndReloadsViaLoadStateDict) {
  ScratchDir dir;
  StateDict original = load_safetensors(test::fixture("reference.safetensors"));
  save_safetensors(dir.file("copy.safetensors"), original);
  StateDict copy = load_state_dict(dir.file("copy.safetensors"));
  EXPECT_EQ(copy.names(), original.names());
  EXPECT_EQ(copy.metadata(), original.metadata());
  EXPECT_EQ(copy.get_f32("a.weight", {2, 2}), original.get_f32("a.weight", {2, 2}));
}

TEST(Safetensors, ReadsHandWrittenReference) {
  nlohmann::json expected = test::expected_json()["reference.safetensors"];
  StateDict dict = load_safetensors(test::fixture("reference.safetensors"));
  EXPECT_EQ(dict.names(), expected["names"].get<std::vector<std::string>>());
  EXPECT_EQ(dict.metadata(), (expected["metadata"].get<std::map<std::string, std::string>>()));
  EXPECT_EQ(dict.get_f32("a.weight", {2, 2}), (std::vector<float>{1.0f, -2.0f, 0.5f, 3.25f}));
  EXPECT_EQ(dict.get_f32("c.bf16", {2}), (std::vector<float>{1.0f, -0.5f}));
  const RawTensor& ids = dict.get("b.ids");
  std::vector<int64_t> values(3);
  std::memcpy(values.data(), ids.data, 24);
  EXPECT_EQ(values, expected["tensors"]["b.ids"]["values"].get<std::vector<int64_t>>());
}

TEST(Safetensors, WriterRejectsBadInput) {
  ScratchDir dir;
  float x = 1;
  RawTensor t{DType::kF32, {1}, reinterpret_cast<const std::byte*>(&x), 4};
  test::expect_error(
      [&] {
        save_safetensors(dir.file("d.st"), {{"a", t}, {"a", t}});
      },
      {"'a'", "duplicate"});
  test::expect_error(
      [&] {
        save_safetensors(dir.file("m.st"), {{"__metadata__", t}});
      },
      {"__metadata__"});
  RawTensor wrong{DType::kF32, {2}, t.data, 4};
  test::expect_error([&] { save_safetensors(dir.file("w.st"), {{"w", wrong}}); }, {"'w'", "[2]"});
  EXPECT_TRUE(dir.entries().empty());
}

const char kGoodHeader[] = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"I8","shape":[4],"data_offsets":[8,12]}})";

TEST_F(SafetensorsCorruption, BaselineIsValid) {
  std::string path = dir_.file("ok.safetensors");
  test::write_file(path, safetensors_bytes(kGoodHeader, std::string(12, '\0')));
  EXPECT_EQ(load_safetensors(path).size(), 2u);
}

TEST_F(SafetensorsCorruption, FileShorterThanEightBytes) {
  load_error("abc", {"3 bytes", "too short"});
  load_error("", {"0 bytes"});
}

TEST_F(SafetensorsCorruption, HeaderLengthPastEndOfFile) {
  std::string bytes = safetensors_bytes(kGoodHeader, std::string(12, '\0'));
  load_error(bytes.substr(0, 40), {"header length", "runs past the end"});
}

TEST_F(SafetensorsCorruption, TruncatedDataSection) {
  std::string bytes = safetensors_bytes(kGoodHeader, std::string(12, '\0'));
  load_error(bytes.substr(0, bytes.size() - 2), {"tensor 'b'", "out of range"});
}

TEST_F(SafetensorsCorruption, MalformedJson) {
  load_error(safetensors_bytes(R"({"a": {"dtype": "F32",)", ""), {"malformed JSON header"});
  load_error(safetensors_bytes("[1, 2]", ""), {"not a JSON object"});
}

TEST_F(SafetensorsCorruption, UnknownDtype) {
  load_error(safetensors_bytes(R"({"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})",
                               std::string(2, '\0')),
             {"tensor 'a'", "unknown dtype 'F8_E4M3'"});
}

TEST_F(SafetensorsCorruption, ShapeDoesNotMatchOffsets) {
  load_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                               std::string(8, '\0')),
             {"tensor 'a'", "[3]", "span 8 bytes"});
}

TEST_F(SafetensorsCorruption, OffsetsOutOfRange) {
  load_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                               std::string(8, '\0')),
             {"tensor 'a'", "[8, 16]", "out of range"});
  load_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})",
                               std::string(8, '\0')),
             {"out of range"});
  load_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})",
                               std::string(8, '\0')),
             {"non-negative integer"});
}

TEST_F(SafetensorsCorruption, OverlappingTensors) {
  load_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}})",
                               std::string(8, '\0')),
             {"'a'", "'b'", "overlap"});
}

TEST_F(SafetensorsCorruption, BadMetadataAndEntries) {
  load_error(safetensors_bytes(R"({"__metadata__":{"n":1}})", ""),
             {"__metadata__", "'n'", "string"});
  load_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", ""), {"data_offsets"});
  load_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],)"
                               R"("data_offsets":[0,0]}})",
                               ""),
             {"tensor 'a'", "span 0 bytes"});
}

TEST_F(SafetensorsCorruption, MutatedFilesFailCleanly) {
  std::string good = test::read_file(test::fixture("reference.safetensors"));
  std::string path = dir_.file("m.safetensors");
  int refused = 0;
  for (size_t pos = 0; pos < good.size(); ++pos) {
    for (unsigned char flip : {0x01, 0x20, 0xff}) {
      std::string bytes = good;
      bytes[pos] = static_cast<char>(bytes[pos] ^ flip);
      test::write_file(path, bytes);
      try {
        StateDict dict = load_safetensors(path);
        for (const std::string& name : dict.names()) {
          const RawTensor& t = dict.get(name);
          if (dtype_is_float(t.dtype)) dict.get_f32(name);  // touches every byte
        }
      } catch (const Error&) {
        ++refused;
      }
    }
  }
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace quasr
