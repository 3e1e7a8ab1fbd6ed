#include "io/npy.h"

#include "test_util.h"

namespace quasr {
namespace {

using test::ScratchDir;

std::vector<float> as_floats(const nlohmann::json& values) {
  std::vector<float> out;
  for (const auto& v : values) out.push_back(static_cast<float>(v.get<double>()));
  return out;
}

TEST(Npy, RoundTrip) {
  ScratchDir dir;
  std::vector<float> values = {1.5f, -2.0f, 0.0f, 3.25f, 1e-8f, -7.0f};
  write_npy_f32(dir.file("a.npy"), values, {2, 3});
  NpyArray back = read_npy_f32(dir.file("a.npy"));
  EXPECT_EQ(back.shape, (Shape{2, 3}));
  EXPECT_EQ(back.data, values);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.npy"});
}

TEST(Npy, WrittenBytesMatchNumpy) {
  // The fixture was written by numpy.save; the same array must give the same bytes.
  NpyArray ref = read_npy_f32(test::fixture("ref_f32.npy"));
  ScratchDir dir;
  write_npy_f32(dir.file("same.npy"), ref.data, ref.shape);
  EXPECT_EQ(test::read_file(dir.file("same.npy")), test::read_file(test::fixture("ref_f32.npy")));
}

TEST(Npy, HeaderLayout) {
  ScratchDir dir;
  write_npy_f32(dir.file("v.npy"), std::vector<float>{1, 2, 3}, {3});
  std::string bytes = test::read_file(dir.file("v.npy"));
  ASSERT_EQ(bytes.size(), 128u + 12u);  // 10 + 58-char dict + newline > 64
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(bytes.substr(10).find("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"), 0u);
  EXPECT_EQ(bytes[127], '\n');
}

TEST(Npy, ReadsNumpyFixtures) {
  nlohmann::json expected = test::expected_json();
  for (const char* name : {"ref_f32.npy", "ref_f64.npy", "ref_scalar.npy"}) {
    SCOPED_TRACE(name);
    NpyArray array = read_npy_f32(test::fixture(name));
    EXPECT_EQ(array.shape, expected[name]["shape"].get<Shape>());
    EXPECT_EQ(array.data, as_floats(expected[name]["values"]));
  }
}

TEST(Npy, WritesAndReadsScalarsAndEmptyArrays) {
  ScratchDir dir;
  write_npy_f32(dir.file("s.npy"), std::vector<float>{4.5f}, {});
  EXPECT_EQ(read_npy_f32(dir.file("s.npy")).data, std::vector<float>{4.5f});
  write_npy_f32(dir.file("e.npy"), std::vector<float>{}, {0, 5});
  NpyArray empty = read_npy_f32(dir.file("e.npy"));
  EXPECT_EQ(empty.shape, (Shape{0, 5}));
  EXPECT_TRUE(empty.data.empty());
}

TEST(Npy, RejectsOtherDtypesAndLayouts) {
  test::expect_error([] { read_npy_f32(test::fixture("ref_i32.npy")); },
                     {"ref_i32.npy", "'<i4'", "not supported"});
  test::expect_error([] { read_npy_f32(test::fixture("ref_fortran.npy")); },
                     {"ref_fortran.npy", "Fortran"});
  test::expect_error([] { read_npy_f32(test::fixture("state_dict.pt")); }, {"not a .npy file"});
}

TEST(Npy, RejectsTruncatedData) {
  ScratchDir dir;
  std::string bytes = test::read_file(test::fixture("ref_f32.npy"));
  test::write_file(dir.file("cut.npy"), bytes.substr(0, bytes.size() - 4));
  test::expect_error([&] { read_npy_f32(dir.file("cut.npy")); }, {"cut.npy", "[2, 3, 4]"});
  test::write_file(dir.file("head.npy"), bytes.substr(0, 30));
  test::expect_error([&] { read_npy_f32(dir.file("head.npy")); }, {"head.npy", "truncated"});
}

TEST(Npy, BadWriteLeavesNoFile) {
  ScratchDir dir;
  test::expect_error(
      [&] {
        write_npy_f32(dir.file("x.npy"), std::vector<float>{1, 2}, {3});
      },
      {"x.npy", "[3]"});
  EXPECT_TRUE(dir.entries().empty());
}

}  // namespace
}  // namespace quasr
