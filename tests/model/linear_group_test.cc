#include "model/linear_group.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>

#include "in_memory_state_dict.h"
#include "model/quantized_backends.h"

namespace quasr::model {
namespace {

constexpr int64_t kIn = 24;
constexpr int64_t kRows = 9;
const std::vector<LinearSpec> kMembers = {{"q", 16}, {"k", 8}, {"v", 32}};

std::vector<float> random_values(int64_t count, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> values(static_cast<size_t>(count));
  for (float& v : values) v = dist(rng);
  return values;
}

// Three linears' weights, fp32 or (for the names in `int8`) stored the way a
// quantized quasr folder stores them: I8 weight and per-channel F32 scale.
class Checkpoint {
 public:
  explicit Checkpoint(const std::map<std::string, LeafQuantSpec>& int8 = {}) : tensors_("test") {
    uint32_t seed = 1;
    for (const LinearSpec& m : kMembers) {
      std::vector<float> weight = random_values(m.out_features * kIn, seed++, 0.3f);
      if (int8.count(m.path)) {
        std::vector<int8_t> q;
        std::vector<float> scales(static_cast<size_t>(m.out_features));
        for (int64_t r = 0; r < m.out_features; ++r) {
          float peak = 0.0f;
          for (int64_t c = 0; c < kIn; ++c) peak = std::max(peak, std::fabs(weight[r * kIn + c]));
          scales[r] = peak / 127.0f;
          for (int64_t c = 0; c < kIn; ++c)
            q.push_back(static_cast<int8_t>(std::nearbyint(weight[r * kIn + c] / scales[r])));
        }
        tensors_.add_i8(m.path + ".weight", std::move(q), {m.out_features, kIn});
        tensors_.add_f32(m.path + ".weight_scale", std::move(scales), {m.out_features});
      } else {
        tensors_.add_f32(m.path + ".weight", std::move(weight), {m.out_features, kIn});
      }
      tensors_.add_f32(m.path + ".bias", random_values(m.out_features, seed++, 0.1f),
                       {m.out_features});
    }
  }
  const StateDict& dict() const { return tensors_.dict(); }

 private:
  testing::InMemoryStateDict tensors_;
};

// Each member on its own, as a LinearLeaf would run it with its own backend.
std::vector<float> members_one_by_one(const ModelBuild& build, const std::vector<float>& x) {
  int64_t total = 0;
  for (const LinearSpec& m : kMembers) total += m.out_features;
  std::vector<float> y(static_cast<size_t>(kRows * total));
  int64_t offset = 0;
  for (size_t i = 0; i < kMembers.size(); ++i) {
    const auto* leaf = dynamic_cast<const LinearLeaf*>(build.leaves[i]);
    std::vector<float> alone(static_cast<size_t>(kRows * kMembers[i].out_features));
    leaf->forward(x.data(), kRows, alone.data());
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t c = 0; c < kMembers[i].out_features; ++c)
        y[r * total + offset + c] = alone[r * kMembers[i].out_features + c];
    offset += kMembers[i].out_features;
  }
  return y;
}

std::vector<float> group_forward(const LinearGroup& group, const std::vector<float>& x) {
  std::vector<float> y(static_cast<size_t>(kRows * group.out_features()));
  group.forward(x.data(), kRows, y.data());
  return y;
}

TEST(LinearGroup, Fp32MembersRunAsOneMatmulWithTheSameOutputs) {
  Checkpoint checkpoint;
  ModelBuild build;
  BuildContext ctx(checkpoint.dict(), "", "", &build);
  LinearGroup group(ctx, kMembers, kIn);
  build.run_deferred();
  ASSERT_TRUE(group.fused());
  EXPECT_EQ(group.out_features(), 56);
  EXPECT_EQ(group.offset(2), 24);
  ASSERT_EQ(build.leaves.size(), 3u);
  EXPECT_EQ(build.leaves[1]->name(), "k");

  const std::vector<float> x = random_values(kRows * kIn, 99, 2.0f);
  const std::vector<float> fused = group_forward(group, x);
  // Against a double reference of x · Wᵀ + b, read back from the checkpoint.
  for (size_t i = 0; i < kMembers.size(); ++i) {
    const LinearSpec& m = kMembers[i];
    std::vector<float> w = checkpoint.dict().get_f32(m.path + ".weight");
    std::vector<float> b = checkpoint.dict().get_f32(m.path + ".bias");
    for (int64_t r = 0; r < kRows; ++r) {
      for (int64_t o = 0; o < m.out_features; ++o) {
        double expected = b[o];
        for (int64_t c = 0; c < kIn; ++c) expected += double(x[r * kIn + c]) * w[o * kIn + c];
        EXPECT_NEAR(fused[r * 56 + group.offset(i) + o], expected, 1e-5) << m.path;
      }
    }
  }
  // A member run alone (through its slice of the fused matmul) gives its columns.
  EXPECT_EQ(members_one_by_one(build, x), fused);
}

TEST(LinearGroup, ObservedMemberRunsAloneAndSeesItsInput) {
  Checkpoint checkpoint;
  ModelBuild build;
  BuildContext ctx(checkpoint.dict(), "", "", &build);
  LinearGroup group(ctx, kMembers, kIn);
  const std::vector<float> x = random_values(kRows * kIn, 7, 1.0f);
  const std::vector<float> fused = group_forward(group, x);
  int64_t seen = 0;
  build.leaves[1]->set_input_observer([&](const float*, int64_t count) { seen += count; });
  EXPECT_FALSE(group.fused());
  EXPECT_EQ(group_forward(group, x), fused);
  EXPECT_EQ(seen, kRows * kIn);
  build.leaves[1]->set_input_observer({});
  EXPECT_TRUE(group.fused());
}

TEST(LinearGroup, DynamicInt8MembersFuseBitExactly) {
  LeafQuantSpec dynamic;
  dynamic.scheme = "dynamic_int8";
  std::map<std::string, LeafQuantSpec> int8{{"q", dynamic}, {"k", dynamic}, {"v", dynamic}};
  Checkpoint checkpoint(int8);
  ModelBuild build;
  build.quantized = int8;
  BuildContext ctx(checkpoint.dict(), "", "", &build);
  LinearGroup group(ctx, kMembers, kIn);
  EXPECT_FALSE(group.fused());  // packing waits for run_deferred
  build.run_deferred();
  ASSERT_TRUE(group.fused());
  EXPECT_EQ(build.leaves[0]->scheme(), "dynamic_int8");

  const std::vector<float> x = random_values(kRows * kIn, 5, 3.0f);
  const std::vector<float> fused = group_forward(group, x);
  // Per-row activation scales do not depend on the output columns, so the
  // fused matmul equals each member's own int8 kernel exactly.
  for (size_t i = 0; i < kMembers.size(); ++i) {
    const LinearSpec& m = kMembers[i];
    QuantizedWeights w = read_quantized_weights(ctx, m.path, {m.out_features, kIn}, dynamic);
    std::vector<float> b = checkpoint.dict().get_f32(m.path + ".bias");
    auto own = make_quantized_linear(dynamic, w, b.data(), kernels::Activation::kNone);
    std::vector<float> y(static_cast<size_t>(kRows * m.out_features));
    own->run(x.data(), kRows, y.data());
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t o = 0; o < m.out_features; ++o)
        ASSERT_EQ(fused[r * 56 + group.offset(i) + o], y[r * m.out_features + o]) << m.path;
  }
}

TEST(LinearGroup, MixedSchemesRunMembersOneByOne) {
  LeafQuantSpec dynamic;
  dynamic.scheme = "dynamic_int8";
  std::map<std::string, LeafQuantSpec> int8{{"k", dynamic}};
  Checkpoint checkpoint(int8);
  ModelBuild build;
  build.quantized = int8;
  BuildContext ctx(checkpoint.dict(), "", "", &build);
  LinearGroup group(ctx, kMembers, kIn);
  build.run_deferred();
  EXPECT_FALSE(group.fused());
  EXPECT_EQ(build.leaves[0]->scheme(), "fp32");
  EXPECT_EQ(build.leaves[1]->scheme(), "dynamic_int8");
  const std::vector<float> x = random_values(kRows * kIn, 11, 1.5f);
  EXPECT_EQ(group_forward(group, x), members_one_by_one(build, x));
}

}  // namespace
}  // namespace quasr::model
