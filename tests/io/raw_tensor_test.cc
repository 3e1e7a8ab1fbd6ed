#include "io/raw_tensor.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "test_util.h"

namespace quasr {
namespace {

template <typename T>
std::shared_ptr<std::vector<T>> owned(std::vector<T> values) {
  return std::make_shared<std::vector<T>>(std::move(values));
}

template <typename T>
RawTensor view(DType dtype, Shape shape, const std::vector<T>& values) {
  return RawTensor{dtype, std::move(shape), reinterpret_cast<const std::byte*>(values.data()),
                   values.size() * sizeof(T)};
}

TEST(DType, NamesAndSizesFollowSafetensors) {
  EXPECT_STREQ(dtype_name(DType::kF32), "F32");
  EXPECT_STREQ(dtype_name(DType::kBF16), "BF16");
  EXPECT_STREQ(dtype_name(DType::kI8), "I8");
  EXPECT_STREQ(dtype_name(DType::kBool), "BOOL");
  EXPECT_EQ(dtype_size(DType::kF64), 8u);
  EXPECT_EQ(dtype_size(DType::kF16), 2u);
  EXPECT_EQ(dtype_size(DType::kBool), 1u);
  EXPECT_EQ(dtype_from_name("I64"), DType::kI64);
  EXPECT_EQ(dtype_from_name("U16"), std::nullopt);
  EXPECT_EQ(dtype_from_name("f32"), std::nullopt);
}

TEST(CopyToF32, HalfValuesIncludingSubnormalsAndSpecials) {
  // IEEE binary16 bit patterns with their exact values.
  std::vector<uint16_t> bits = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff,
                                0x8000, 0x3555, 0x7c00, 0xfc00};
  std::vector<float> out(bits.size());
  copy_to_f32(view(DType::kF16, {static_cast<int64_t>(bits.size())}, bits), out.data());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], 65504.0f);
  EXPECT_EQ(out[3], std::ldexp(1.0f, -24));
  EXPECT_EQ(out[4], 1023 * std::ldexp(1.0f, -24));
  EXPECT_EQ(out[5], 0.0f);
  EXPECT_TRUE(std::signbit(out[5]));
  EXPECT_EQ(out[6], 0.333251953125f);
  EXPECT_EQ(out[7], std::numeric_limits<float>::infinity());
  EXPECT_EQ(out[8], -std::numeric_limits<float>::infinity());
  uint16_t nan_bits = 0x7e00;
  float nan_value;
  copy_to_f32(RawTensor{DType::kF16, {}, reinterpret_cast<const std::byte*>(&nan_bits), 2},
              &nan_value);
  EXPECT_TRUE(std::isnan(nan_value));
}

TEST(CopyToF32, BFloat16AndDouble) {
  std::vector<uint16_t> bf = {0x3f80, 0xc0a0, 0x3e80};  // 1, -5, 0.25
  std::vector<float> out(3);
  copy_to_f32(view(DType::kBF16, {3}, bf), out.data());
  EXPECT_EQ(out, (std::vector<float>{1.0f, -5.0f, 0.25f}));
  std::vector<double> f64 = {0.5, -1e10, 1.0 / 3.0};
  copy_to_f32(view(DType::kF64, {3}, f64), out.data());
  EXPECT_EQ(out, (std::vector<float>{0.5f, -1e10f, static_cast<float>(1.0 / 3.0)}));
}

class StateDictTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dict_ = StateDict("model.ckpt");
    dict_.add("model.w", view(DType::kF32, {2, 3}, *weights_));
    dict_.add("model.n", view(DType::kI64, {}, *count_));
    dict_.add("other", view(DType::kF32, {1}, *one_));
    dict_.keep_alive(weights_);
    dict_.keep_alive(count_);
    dict_.keep_alive(one_);
  }
  std::shared_ptr<std::vector<float>> weights_ = owned<float>({1, 2, 3, 4, 5, 6});
  std::shared_ptr<std::vector<int64_t>> count_ = owned<int64_t>({42});
  std::shared_ptr<std::vector<float>> one_ = owned<float>({9});
  StateDict dict_;
};

TEST_F(StateDictTest, KeepsInsertionOrderAndLooksUp) {
  EXPECT_EQ(dict_.names(), (std::vector<std::string>{"model.w", "model.n", "other"}));
  EXPECT_TRUE(dict_.contains("model.w"));
  EXPECT_FALSE(dict_.contains("model"));
  EXPECT_EQ(dict_.get("model.w").shape, (Shape{2, 3}));
  EXPECT_EQ(dict_.get_f32("model.w", {2, 3}), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(dict_.get_i64_scalar("model.n"), 42);
  EXPECT_EQ(dict_.source(), "model.ckpt");
}

TEST_F(StateDictTest, ErrorTexts) {
  EXPECT_EQ(test::expect_error([&] { dict_.get("missing"); }, {}),
            "model.ckpt: tensor 'missing' not found");
  EXPECT_EQ(test::expect_error(
                [&] {
                  dict_.get_f32("model.w", {3, 2});
                },
                {}),
            "model.ckpt: tensor 'model.w' has shape [2, 3], expected [3, 2]");
  EXPECT_EQ(test::expect_error([&] { dict_.get_f32("model.n"); }, {}),
            "model.ckpt: tensor 'model.n' has dtype I64, expected a floating-point dtype");
  test::expect_error([&] { dict_.get_i64_scalar("model.w"); }, {"model.w", "[2, 3]", "scalar"});
  test::expect_error([&] { dict_.add("other", view(DType::kF32, {1}, *one_)); },
                     {"duplicate", "other"});
  test::expect_error([&] { dict_.add("bad", view(DType::kF32, {4}, *one_)); }, {"bad", "bytes"});
}

TEST_F(StateDictTest, PrefixRemovedViewNamesTheFullTensor) {
  StateDict inner = dict_.with_prefix_removed("model.");
  EXPECT_EQ(inner.names(), (std::vector<std::string>{"w", "n"}));
  EXPECT_EQ(test::expect_error([&] { inner.get("x"); }, {}),
            "model.ckpt: tensor 'model.x' not found");
  EXPECT_EQ(test::expect_error([&] { inner.get_f32("w", {6}); }, {}),
            "model.ckpt: tensor 'model.w' has shape [2, 3], expected [6]");
}

TEST_F(StateDictTest, DerivedDictsKeepTheBytesAlive) {
  StateDict inner = dict_.with_prefix_removed("model.");
  weights_.reset();
  count_.reset();
  one_.reset();
  dict_ = StateDict();
  EXPECT_EQ(inner.get_f32("w", {2, 3})[5], 6.0f);
  EXPECT_EQ(inner.get_i64_scalar("n"), 42);
}

TEST_F(StateDictTest, MergeCombinesAndRejectsDuplicates) {
  auto extra_bytes = owned<float>({7});
  StateDict extra("asr.ckpt");
  extra.add("lin.b", view(DType::kF32, {1}, *extra_bytes));
  extra.keep_alive(extra_bytes);
  StateDict merged = dict_;
  merged.merge(extra);
  EXPECT_EQ(merged.size(), 4u);
  EXPECT_EQ(merged.source(), "model.ckpt + asr.ckpt");
  EXPECT_EQ(merged.get_f32("lin.b", {1})[0], 7.0f);
  // A failed merge leaves the dict as it was.
  test::expect_error([&] { merged.merge(extra); }, {"lin.b", "both"});
  EXPECT_EQ(merged.size(), 4u);
}

}  // namespace
}  // namespace quasr
