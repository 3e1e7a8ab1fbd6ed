// Self-attention core (QKᵀ, masked softmax, ·V) at wav2vec2 shapes:
// 16 heads x 64 (large) and 12 x 64 (base), utterances of 3-20 s.
//   QUASR_BENCH_THREADS=2 build/bench/quasr_attention_bench --benchmark_filter=Large
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <vector>

#include "kernels/attention.h"
#include "kernels/dnnl_runtime.h"

namespace {

void BM_SelfAttention(benchmark::State& state) {
  const int64_t frames = state.range(0), heads = state.range(1), head_dim = 64;
  const auto precision = state.range(2) ? quasr::kernels::AttentionPrecision::kBf16
                                        : quasr::kernels::AttentionPrecision::kFp32;
  const int64_t width = heads * head_dim;
  std::vector<float> q(frames * width), k(q.size()), v(q.size()), out(q.size());
  for (size_t i = 0; i < q.size(); ++i) {
    q[i] = std::sin(0.01f * i);
    k[i] = std::cos(0.013f * i);
    v[i] = std::sin(0.017f * i + 1.0f);
  }
  quasr::AlignedBuffer scratch;
  const float scale = 1.0f / std::sqrt(float(head_dim));
  for (auto _ : state) {
    quasr::kernels::self_attention(q.data(), k.data(), v.data(), width, frames, frames - 5, heads,
                                   head_dim, scale, out.data(), width, scratch, precision);
    benchmark::DoNotOptimize(out.data());
  }
  const double macs = 2.0 * heads * frames * frames * head_dim;
  state.counters["GMAC/s"] =
      benchmark::Counter(macs * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_SelfAttention)
    ->Name("Large")
    ->ArgsProduct({{160, 256, 512, 1024}, {16}, {0, 1}})
    ->ArgNames({"frames", "heads", "bf16"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SelfAttention)
    ->Name("Base")
    ->ArgsProduct({{256}, {12}, {0, 1}})
    ->ArgNames({"frames", "heads", "bf16"})
    ->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  const char* threads = std::getenv("QUASR_BENCH_THREADS");
  quasr::kernels::set_num_threads(threads ? std::atoi(threads) : 1);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
