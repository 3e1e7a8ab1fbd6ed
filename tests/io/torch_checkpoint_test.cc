#include "io/torch_checkpoint.h"

#include <zip.h>

#include <cstring>
#include <map>

#include "test_util.h"

namespace quasr {
namespace {

using test::ScratchDir;

// Integer elements of a tensor widened to int64, read straight from its bytes.
std::vector<int64_t> int_values(const RawTensor& t) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const std::byte* p = t.data + i * dtype_size(t.dtype);
    int64_t v = 0;
    switch (t.dtype) {
      case DType::kI64:
        std::memcpy(&v, p, 8);
        break;
      case DType::kI32: {
        int32_t x;
        std::memcpy(&x, p, 4);
        v = x;
        break;
      }
      case DType::kI16: {
        int16_t x;
        std::memcpy(&x, p, 2);
        v = x;
        break;
      }
      case DType::kI8:
        v = static_cast<int8_t>(*p);
        break;
      case DType::kU8:
      case DType::kBool:
        v = static_cast<uint8_t>(*p);
        break;
      default:
        ADD_FAILURE() << "not an integer dtype";
    }
    out.push_back(v);
  }
  return out;
}

// Compares every tensor of `dict` with what PyTorch reported (expected.json).
void expect_matches_pytorch(const StateDict& dict, const nlohmann::json& expected) {
  EXPECT_EQ(dict.names(), expected["names"].get<std::vector<std::string>>());
  for (const auto& [name, want] : expected["tensors"].items()) {
    SCOPED_TRACE(name);
    const RawTensor& t = dict.get(name);
    EXPECT_EQ(dtype_name(t.dtype), want["dtype"].get<std::string>());
    EXPECT_EQ(t.shape, want["shape"].get<Shape>());
    if (dtype_is_float(t.dtype)) {
      std::vector<float> values = dict.get_f32(name, want["shape"].get<Shape>());
      std::vector<float> reference;
      for (const auto& v : want["values"]) reference.push_back(static_cast<float>(v.get<double>()));
      EXPECT_EQ(values, reference);
      if (t.dtype == DType::kF64) {
        std::vector<double> raw(static_cast<size_t>(t.numel()));
        std::memcpy(raw.data(), t.data, t.nbytes);
        EXPECT_EQ(raw, want["values"].get<std::vector<double>>());
      }
    } else {
      EXPECT_EQ(int_values(t), want["values"].get<std::vector<int64_t>>());
    }
  }
}

TEST(TorchCheckpoint, StateDictMatchesPyTorch) {
  StateDict dict = load_torch_checkpoint(test::fixture("state_dict.pt"));
  EXPECT_EQ(dict.source(), test::fixture("state_dict.pt"));
  expect_matches_pytorch(dict, test::expected_json()["state_dict.pt"]);
  EXPECT_EQ(dict.get("scalar").shape, Shape{});
  EXPECT_EQ(dict.get("empty").nbytes, 0u);
}

TEST(TorchCheckpoint, BatchNormWithNumBatchesTracked) {
  StateDict dict = load_state_dict(test::fixture("batchnorm.pt"));
  expect_matches_pytorch(dict, test::expected_json()["batchnorm.pt"]);
  EXPECT_EQ(dict.get("num_batches_tracked").shape, Shape{});
  EXPECT_EQ(dict.get_i64_scalar("num_batches_tracked"), 3);
}

TEST(TorchCheckpoint, AnyTopFolderNameAndParameters) {
  StateDict dict = load_state_dict(test::fixture("renamed_folder.pt"));
  expect_matches_pytorch(dict, test::expected_json()["renamed_folder.pt"]);
}

TEST(TorchCheckpoint, TrainingCheckpointUsesStateDictKey) {
  StateDict dict = load_state_dict(test::fixture("wrapped.pt"));
  expect_matches_pytorch(dict, test::expected_json()["wrapped.pt"]);
}

TEST(TorchCheckpoint, PrefixViewOutlivesTheLoadedDict) {
  StateDict shared;
  {
    StateDict dict = load_state_dict(test::fixture("state_dict.pt"));
    shared = dict.with_prefix_removed("shared.");
  }
  EXPECT_EQ(shared.names(), (std::vector<std::string>{"full", "row"}));
  std::vector<float> full = shared.get_f32("full", {2, 3});
  std::vector<float> row = shared.get_f32("row", {3});
  EXPECT_EQ(row, std::vector<float>(full.begin() + 3, full.end()));
}

TEST(TorchCheckpoint, RefusesOsSystemPickle) {
  // The pickle would write this file if anything in it were executed.
  const char* marker = "/tmp/quasr-pwned";
  bool marker_existed = access(marker, F_OK) == 0;
  nlohmann::json expected = test::expected_json()["malicious_os_system.pt"];
  std::string path = test::fixture("malicious_os_system.pt");
  std::string message = test::expect_error(
      [&] { load_state_dict(path); },
      {path, "refusing pickle global '" + expected["global"].get<std::string>() + "'"});
  EXPECT_EQ(
      message,
      path + ": refusing pickle global 'posix.system' (only tensor state dicts are accepted)");
  if (!marker_existed) {
    EXPECT_NE(access(marker, F_OK), 0);
  }
}

TEST(TorchCheckpoint, RefusesBuiltinsEvalPickle) {
  std::string path = test::fixture("malicious_eval.pt");
  test::expect_error([&] { load_torch_checkpoint(path); },
                     {path, "refusing pickle global 'builtins.eval'"});
}

TEST(TorchCheckpoint, TruncatedZip) {
  std::string path = test::fixture("truncated.pt");
  test::expect_error([&] { load_state_dict(path); }, {path, "truncated or corrupt"});
}

TEST(TorchCheckpoint, LegacyFormat) {
  std::string path = test::fixture("legacy.pt");
  test::expect_error([&] { load_state_dict(path); }, {path, "legacy (pre-1.6, non-zip)"});
  test::expect_error([&] { load_torch_checkpoint(path); }, {path, "legacy"});
}

TEST(TorchCheckpoint, UnknownAndMissingFiles) {
  ScratchDir dir;
  test::write_file(dir.file("junk.bin"), "this is not a checkpoint at all");
  test::expect_error([&] { load_state_dict(dir.file("junk.bin")); }, {"junk.bin", "unrecognised"});
  test::expect_error([&] { load_state_dict(dir.file("none.pt")); }, {"none.pt", "cannot open"});
}

// --- hand-built torch zips -------------------------------------------------

// Builds pickle bytes opcode by opcode (protocol 2, as torch.save writes).
class Pickle {
 public:
  Pickle() { bytes_ = "\x80\x02"; }
  Pickle& op(const std::string& raw) {
    bytes_ += raw;
    return *this;
  }
  Pickle& str(const std::string& s) {
    bytes_ += 'X';
    for (int i = 0; i < 4; ++i) bytes_ += static_cast<char>(s.size() >> (8 * i));
    bytes_ += s;
    return *this;
  }
  Pickle& small(int v) {
    bytes_ += 'K';
    bytes_ += static_cast<char>(v);
    return *this;
  }
  Pickle& global(const std::string& module, const std::string& name) {
    bytes_ += "c" + module + "\n" + name + "\n";
    return *this;
  }
  Pickle& ints(const std::vector<int>& values) {
    op("(");
    for (int v : values) small(v);
    return op("t");
  }
  // _rebuild_tensor_v2(storage key, offset, size, stride, False, OrderedDict()).
  Pickle& tensor(const std::string& key, int numel, int offset, const std::vector<int>& size,
                 const std::vector<int>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").op("((").str("storage");
    global("torch", "FloatStorage").str(key).str("cpu").small(numel).op("tQ");
    small(offset).ints(size).ints(stride).op("\x89");
    return global("collections", "OrderedDict").op(")Rt").op("R");
  }
  std::string done() { return bytes_ + "."; }

 private:
  std::string bytes_;
};

void write_zip(const std::string& path, const std::map<std::string, std::string>& entries) {
  int error = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(z, nullptr);
  for (const auto& [name, data] : entries) {
    zip_source_t* source = zip_source_buffer(z, data.data(), data.size(), 0);
    ASSERT_GE(zip_file_add(z, name.c_str(), source, ZIP_FL_ENC_UTF_8), 0);
  }
  ASSERT_EQ(zip_close(z), 0);  // copies the buffers while `entries` is alive
}

std::string floats(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4);
}

TEST(TorchCheckpoint, HandBuiltStridedViewIsCopiedContiguous) {
  ScratchDir dir;
  std::string pkl = Pickle().op("}").str("w").tensor("0", 6, 1, {2, 2}, {1, 2}).op("s").done();
  write_zip(dir.file("m.pt"), {{"any/data.pkl", pkl}, {"any/data/0", floats({0, 1, 2, 3, 4, 5})}});
  StateDict dict = load_state_dict(dir.file("m.pt"));
  // w[i][j] = storage[1 + i*1 + j*2]
  EXPECT_EQ(dict.get_f32("w", {2, 2}), (std::vector<float>{1, 3, 2, 4}));
}

TEST(TorchCheckpoint, HandBuiltViewPastStorageEnd) {
  ScratchDir dir;
  std::string pkl = Pickle().op("}").str("w").tensor("0", 6, 1, {2, 3}, {3, 1}).op("s").done();
  write_zip(dir.file("m.pt"), {{"a/data.pkl", pkl}, {"a/data/0", floats({0, 1, 2, 3, 4, 5})}});
  test::expect_error([&] { load_state_dict(dir.file("m.pt")); },
                     {"m.pt", "tensor 'w'", "past the end", "6-element storage"});
}

TEST(TorchCheckpoint, HandBuiltStorageProblems) {
  ScratchDir dir;
  std::string pkl = Pickle().op("}").str("w").tensor("0", 6, 0, {6}, {1}).op("s").done();
  write_zip(dir.file("missing.pt"), {{"a/data.pkl", pkl}});
  test::expect_error([&] { load_state_dict(dir.file("missing.pt")); },
                     {"missing.pt", "'a/data/0' is missing"});
  write_zip(dir.file("short.pt"), {{"a/data.pkl", pkl}, {"a/data/0", floats({1, 2})}});
  test::expect_error([&] { load_state_dict(dir.file("short.pt")); },
                     {"short.pt", "holds 8 bytes", "6 x 4"});
}

TEST(TorchCheckpoint, HandBuiltOtherRefusals) {
  ScratchDir dir;
  std::string numpy =
      Pickle().op("}").str("x").global("numpy.core.multiarray", "_reconstruct").op("s").done();
  write_zip(dir.file("np.pt"), {{"a/data.pkl", numpy}});
  test::expect_error([&] { load_state_dict(dir.file("np.pt")); },
                     {"refusing pickle global 'numpy.core.multiarray._reconstruct'"});
  write_zip(dir.file("list.pt"), {{"a/data.pkl", Pickle().op("]").done()}});
  test::expect_error([&] { load_state_dict(dir.file("list.pt")); }, {"list.pt", "expected a dict"});
  write_zip(dir.file("nopkl.pt"), {{"a/other.txt", "x"}});
  test::expect_error([&] { load_state_dict(dir.file("nopkl.pt")); }, {"nopkl.pt", "data.pkl"});
  std::string call_storage = Pickle().global("torch", "FloatStorage").op(")R").done();
  write_zip(dir.file("call.pt"), {{"a/data.pkl", call_storage}});
  test::expect_error([&] { load_state_dict(dir.file("call.pt")); }, {"refusing to call"});
}

TEST(TorchCheckpoint, MutatedPicklesFailCleanly) {
  // Every damaged data.pkl must give a quasr::Error (or load), never crash or hang.
  std::string pkl;
  {
    int error = 0;
    zip_t* z = zip_open(test::fixture("state_dict.pt").c_str(), ZIP_RDONLY, &error);
    ASSERT_NE(z, nullptr);
    zip_stat_t st;
    ASSERT_EQ(zip_stat(z, "state_dict/data.pkl", 0, &st), 0);
    pkl.resize(st.size);
    zip_file_t* f = zip_fopen(z, "state_dict/data.pkl", 0);
    ASSERT_EQ(zip_fread(f, pkl.data(), st.size), static_cast<zip_int64_t>(st.size));
    zip_fclose(f);
    zip_discard(z);
  }
  std::map<std::string, std::string> entries;
  for (int key = 0; key < 14; ++key) {
    entries["m/data/" + std::to_string(key)] = std::string(64, '\x01');
  }
  ScratchDir dir;
  int loaded = 0, refused = 0;
  for (size_t pos = 0; pos < pkl.size(); pos += 3) {
    for (unsigned char flip : {0x01, 0x80, 0xff}) {
      entries["m/data.pkl"] = pkl;
      entries["m/data.pkl"][pos] = static_cast<char>(entries["m/data.pkl"][pos] ^ flip);
      if (pos % 2) entries["m/data.pkl"].resize(pos);  // truncated as well
      write_zip(dir.file("m.pt"), entries);
      try {
        load_state_dict(dir.file("m.pt"));
        ++loaded;
      } catch (const Error&) {
        ++refused;
      }
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(loaded + refused, 1000);
}

}  // namespace
}  // namespace quasr
