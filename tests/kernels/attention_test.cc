// Self-attention against a double-precision reference: fp32 path within float
// rounding, bf16 path within bf16 rounding, masked keys ignored, several
// query blocks.
#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "int8_test_util.h"

namespace quasr::kernels {
namespace {

// out[t, h*d + j] = Σ_s softmax_s(scale q_t·k_s over s < valid) v[s, h*d + j]
std::vector<double> reference_attention(const std::vector<float>& q, const std::vector<float>& k,
                                        const std::vector<float>& v, int64_t frames, int64_t valid,
                                        int64_t heads, int64_t dim, double scale) {
  const int64_t width = heads * dim;
  std::vector<double> out(static_cast<size_t>(frames * width), 0.0), p(valid);
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t t = 0; t < frames; ++t) {
      double top = -1e300, sum = 0.0;
      for (int64_t s = 0; s < valid; ++s) {
        double dot = 0.0;
        for (int64_t j = 0; j < dim; ++j)
          dot += double(q[t * width + h * dim + j]) * k[s * width + h * dim + j];
        p[s] = dot * scale;
        top = std::max(top, p[s]);
      }
      for (int64_t s = 0; s < valid; ++s) sum += p[s] = std::exp(p[s] - top);
      for (int64_t s = 0; s < valid; ++s)
        for (int64_t j = 0; j < dim; ++j)
          out[t * width + h * dim + j] += p[s] / sum * v[s * width + h * dim + j];
    }
  return out;
}

double worst_error(AttentionPrecision precision, int64_t frames, int64_t valid, int64_t heads,
                   int64_t dim) {
  const int64_t width = heads * dim;
  std::vector<float> q = testing::random_vector(frames * width, 1 + frames, -1.0f, 1.0f);
  std::vector<float> k = testing::random_vector(frames * width, 2 + frames, -1.0f, 1.0f);
  std::vector<float> v = testing::random_vector(frames * width, 3 + frames, -1.0f, 1.0f);
  std::vector<float> out(q.size(), -7.0f);
  AlignedBuffer scratch;
  const float scale = 1.0f / std::sqrt(float(dim));
  self_attention(q.data(), k.data(), v.data(), width, frames, valid, heads, dim, scale, out.data(),
                 width, scratch, precision);
  std::vector<double> want = reference_attention(q, k, v, frames, valid, heads, dim, scale);
  double worst = 0.0;
  for (size_t i = 0; i < out.size(); ++i) {
    const double error = std::fabs(out[i] - want[i]);
    if (std::isnan(error) || error > worst) worst = error;  // a NaN sticks and fails the check
  }
  return worst;
}

void check(AttentionPrecision precision, int64_t frames, int64_t valid, int64_t heads,
           double tolerance, int64_t dim = 16) {
  EXPECT_LT(worst_error(precision, frames, valid, heads, dim), tolerance)
      << "frames " << frames << " valid " << valid << " heads " << heads << " dim " << dim;
}

TEST(SelfAttention, Fp32MatchesDoubleWithMaskedKeysAndSeveralBlocks) {
  check(AttentionPrecision::kFp32, 40, 33, 3, 2e-6);
  check(AttentionPrecision::kFp32, 300, 300, 2, 2e-6);  // two query blocks of <= 256
}

// Head sizes 64 and 32 run on quasr's AVX-512 kernel (oneDNN below AVX-512):
// row tails of the 8- and 6-row tiles, key tails of 32 and 16, masked keys.
TEST(SelfAttention, Fp32HeadSizes64And32) {
  check(AttentionPrecision::kFp32, 37, 30, 2, 2e-6, 64);
  check(AttentionPrecision::kFp32, 300, 291, 3, 2e-6, 64);
  check(AttentionPrecision::kFp32, 50, 50, 2, 2e-6, 32);
  check(AttentionPrecision::kFp32, 1, 1, 1, 2e-6, 64);
}

TEST(SelfAttention, Bf16WithinBf16RoundingOfDouble) {
  if (!bf16_attention_available()) GTEST_SKIP() << "no native bf16 on this CPU";
  // Outputs are averages of values in [-1, 1]; bf16 keeps 8 significant bits
  // of q, k, v and the probabilities, so errors stay near 2^-8.
  check(AttentionPrecision::kBf16, 40, 33, 3, 1e-2);
  check(AttentionPrecision::kBf16, 600, 590, 16, 1e-2);  // three query blocks
}

// wav2vec2's head size (64), and 32: quasr's AMX kernel where the CPU has
// AMX (oneDNN's matmuls under QUASR_AMX=0, ctest's onednn_attention run).
// Tails of 16-query and 32-key tiles, masked keys, a single frame; errors
// are ~1e-3 on both paths (one frame: v rounded to bf16, <= 2^-9).
TEST(SelfAttention, Bf16HeadSizes64And32) {
  if (!bf16_attention_available()) GTEST_SKIP() << "no native bf16 on this CPU";
  check(AttentionPrecision::kBf16, 37, 30, 2, 4e-3, 64);
  check(AttentionPrecision::kBf16, 300, 300, 3, 4e-3, 64);
  check(AttentionPrecision::kBf16, 64, 17, 2, 4e-3, 64);
  check(AttentionPrecision::kBf16, 50, 50, 2, 4e-3, 32);
  check(AttentionPrecision::kBf16, 1, 1, 1, 4e-3, 64);
}

TEST(SelfAttention, Bf16DiffersFromFp32OnlyByRounding) {
  if (!bf16_attention_available()) GTEST_SKIP() << "no native bf16 on this CPU";
  const int64_t frames = 64, heads = 2, dim = 16, width = heads * dim;
  std::vector<float> x = testing::random_vector(frames * width, 9, -1.0f, 1.0f);
  std::vector<float> fp32(x.size()), bf16(x.size());
  AlignedBuffer scratch;
  self_attention(x.data(), x.data(), x.data(), width, frames, frames, heads, dim, 0.25f,
                 fp32.data(), width, scratch, AttentionPrecision::kFp32);
  self_attention(x.data(), x.data(), x.data(), width, frames, frames, heads, dim, 0.25f,
                 bf16.data(), width, scratch, AttentionPrecision::kBf16);
  double worst = 0.0;
  for (size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, double(std::fabs(fp32[i] - bf16[i])));
  EXPECT_GT(worst, 0.0);  // the bf16 path really ran
  EXPECT_LT(worst, 1e-2);
}

}  // namespace
}  // namespace quasr::kernels
