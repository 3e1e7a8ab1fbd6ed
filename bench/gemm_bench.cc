// fp32 vs int8 GEMM at wav2vec2-large shapes: M frames (50 ≈ 1 s of audio,
// 1500 ≈ 30 s) times (K, N) of the attention projections (1024, 1024) and
// the feed-forward layers (1024, 4096) / (4096, 1024). Reports GMAC/s.
// Threads: 2 (QUASR_BENCH_THREADS overrides), as the project's machines.
// Time is wall-clock; on a shared machine also run with
// QUASR_BENCH_THREADS=1 and read the CPU column (work per core).
//
//   build-*/bench/quasr_gemm_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include <omp.h>

#include "kernels/amx_bf16x3_linear.h"
#include "kernels/avx2_f32_linear.h"
#include "kernels/dnnl_runtime.h"
#include "kernels/int8/amx_int8_matmul.h"
#include "kernels/int8/avx2_int8_matmul.h"
#include "kernels/int8/int8_linear.h"
#include "kernels/int8/packed_int8_matmul.h"
#include "kernels/packed_matmul.h"

namespace quasr::kernels {
namespace {

std::vector<float> random_vector(int64_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

struct Problem {
  int64_t m, k, n;
  std::vector<float> x, w, bias, y;
  explicit Problem(const benchmark::State& state)
      : m(state.range(0)),
        k(state.range(1)),
        n(state.range(2)),
        x(random_vector(m * k, 1, -2.0f, 3.0f)),
        w(random_vector(n * k, 2, -0.05f, 0.05f)),
        bias(random_vector(n, 3, -0.1f, 0.1f)),
        y(static_cast<size_t>(m * n)) {}
};

void report(benchmark::State& state, const Problem& p) {
  state.counters["GMAC"] = benchmark::Counter(static_cast<double>(p.m * p.k * p.n) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Fp32(benchmark::State& state) {
  Problem p(state);
  PackedMatmulF32 fc(p.w.data(), p.bias.data(), p.n, p.k, Activation::kNone);
  for (auto _ : state) fc.run(p.x.data(), p.m, p.y.data());
  report(state, p);
}

// As a 24-layer model sees them: each call uses the next of 24 weight
// matrices, so the weights come from memory, not from the last call's cache.
// quasr's AVX2 fp32 kernel (CPUs without AVX-512).
void BM_Avx2F32(benchmark::State& state) {
  if (!Avx2F32Linear::available()) return state.SkipWithError("no AVX2");
  Problem p(state);
  Avx2F32Linear fc(p.w.data(), p.bias.data(), p.n, p.k, Activation::kNone);
  for (auto _ : state) fc.run(p.x.data(), p.m, p.y.data());
  report(state, p);
}

void BM_Fp32ColdWeights(benchmark::State& state) {
  Problem p(state);
  constexpr int kLayers = 24;
  std::vector<std::unique_ptr<PackedMatmulF32>> layers;
  for (int i = 0; i < kLayers; ++i) {
    layers.push_back(
        std::make_unique<PackedMatmulF32>(p.w.data(), p.bias.data(), p.n, p.k, Activation::kNone));
  }
  int next = 0;
  for (auto _ : state) {
    layers[next]->run(p.x.data(), p.m, p.y.data());
    next = (next + 1) % kLayers;
  }
  report(state, p);
}

// fp32 on AMX bf16 tiles, each operand split in two bf16 halves.
void BM_Bf16x3(benchmark::State& state) {
  if (!AmxBf16x3Linear::available()) return state.SkipWithError("no AMX-BF16");
  Problem p(state);
  AmxBf16x3Linear fc(p.w.data(), p.bias.data(), p.n, p.k, Activation::kNone);
  for (auto _ : state) fc.run(p.x.data(), p.m, p.y.data());
  report(state, p);
}

void run_dynamic(benchmark::State& state, ActivationGranularity granularity, Activation act) {
  Problem p(state);
  Int8Weights w = Int8Weights::quantize(p.w.data(), p.n, p.k, true);
  DynamicInt8Options options;
  options.granularity = granularity;
  DynamicInt8Linear fc(w, p.bias.data(), act, options);
  for (auto _ : state) fc.run(p.x.data(), p.m, p.y.data());
  state.SetLabel(fc.implementation(p.m));
  report(state, p);
}

void BM_DynamicInt8PerRow(benchmark::State& state) {
  run_dynamic(state, ActivationGranularity::kPerRow, Activation::kNone);
}
void BM_DynamicInt8PerTensor(benchmark::State& state) {
  run_dynamic(state, ActivationGranularity::kPerTensor, Activation::kNone);
}
void BM_DynamicInt8PerRowGelu(benchmark::State& state) {
  run_dynamic(state, ActivationGranularity::kPerRow, Activation::kGelu);
}

void BM_StaticInt8(benchmark::State& state) {
  Problem p(state);
  Int8Weights w = Int8Weights::quantize(p.w.data(), p.n, p.k, true);
  StaticInt8Linear fc(w, p.bias.data(), Activation::kNone,
                      quant::choose_asymmetric(-2.0f, 3.0f, quant::u8_range(false)));
  for (auto _ : state) fc.run(p.x.data(), p.m, p.y.data());
  state.SetLabel(fc.implementation(p.m));
  report(state, p);
}

// The floor under the dynamic kernels: oneDNN's u8 × s8 -> s32 matmul alone
// on already-quantized input, no quantization pass and no epilogue.
void BM_OneDnnU8S8S32(benchmark::State& state) {
  Problem p(state);
  Int8Weights w = Int8Weights::quantize(p.w.data(), p.n, p.k, true);
  int8_detail::PackedInt8Matmul mm(w.data(), p.n, p.k, dnnl::memory::data_type::s32,
                                   dnnl::primitive_attr(), nullptr);
  std::vector<uint8_t> q(static_cast<size_t>(p.m * p.k), 77);
  for (auto _ : state) mm.run(q.data(), p.m, p.k, p.y.data(), p.n);
  state.SetLabel(mm.implementation(p.m));
  report(state, p);
}

// The same floor on quasr's block kernels (AVX2: 7-bit input, as it runs
// in quasr): the int32 blocks go to an epilogue that only reads one value
// of each.
template <typename Kernel>
void run_block_kernel(benchmark::State& state) {
  if (!Kernel::available()) return state.SkipWithError("kernel not usable here");
  Problem p(state);
  Int8Weights w = Int8Weights::quantize(p.w.data(), p.n, p.k, true);
  Kernel mm(w.data(), p.n, p.k);
  std::vector<uint8_t> q(static_cast<size_t>(p.m * p.k), 77);
  auto keep_one = [&](const int32_t* acc, int64_t row0, int64_t, int64_t col0) {
    p.y[row0 * p.n + col0] = static_cast<float>(acc[0]);
  };
  for (auto _ : state) mm.run(q.data(), p.m, p.k, keep_one);
  report(state, p);
}
void BM_AmxU8S8S32(benchmark::State& state) {
  run_block_kernel<int8_detail::AmxInt8Matmul>(state);
}
void BM_Avx2U8S8S32(benchmark::State& state) {
  run_block_kernel<int8_detail::Avx2Int8Matmul>(state);
}

// A 6-7 s utterance through FFN1's shape (K 1024, N 4096), 160 rows per
// thread, on quasr's AMX kernel (as the transformer's row shares run it) or
// its AVX2 one. With `weights` 1 the same 4 MiB of weights every time (they
// stay in cache), with 72 the next of 72 matrices (288 MiB, large's 24
// layers x 12 MiB), so they come from memory as in the model.
template <typename Kernel>
void run_block_kernel_row_share(benchmark::State& state) {
  if (!Kernel::available()) return state.SkipWithError("kernel not usable here");
  const int64_t m = 160 * omp_get_max_threads(), k = 1024, n = 4096, count = state.range(0);
  const std::vector<float> w = random_vector(n * k, 2, -0.05f, 0.05f);
  const Int8Weights q8 = Int8Weights::quantize(w.data(), n, k, true);
  std::vector<std::unique_ptr<Kernel>> matrices;
  for (int64_t i = 0; i < count; ++i) matrices.push_back(std::make_unique<Kernel>(q8.data(), n, k));
  std::vector<uint8_t> q(static_cast<size_t>(m * k), 77);
  std::vector<float> y(static_cast<size_t>(m * n));
  auto keep_one = [&](const int32_t* acc, int64_t row0, int64_t, int64_t col0) {
    y[static_cast<size_t>(row0 * n + col0)] = static_cast<float>(acc[0]);
  };
  int64_t next = 0;
  for (auto _ : state) {
    matrices[static_cast<size_t>(next)]->run(q.data(), m, k, keep_one);
    next = (next + 1) % count;
  }
  state.counters["GMAC"] = benchmark::Counter(static_cast<double>(m * k * n) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}
void BM_AmxU8S8S32RowShare(benchmark::State& state) {
  run_block_kernel_row_share<int8_detail::AmxInt8Matmul>(state);
}
void BM_Avx2U8S8S32RowShare(benchmark::State& state) {
  run_block_kernel_row_share<int8_detail::Avx2Int8Matmul>(state);
}

void Shapes(benchmark::internal::Benchmark* b) {
  for (int64_t m : {50, 300, 1500}) {
    for (auto [k, n] :
         {std::pair<int64_t, int64_t>{1024, 1024}, {1024, 4096}, {4096, 1024}, {1536, 512}}) {
      b->Args({m, k, n});
    }
  }
  b->ArgNames({"M", "K", "N"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_Fp32)->Apply(Shapes);
BENCHMARK(BM_Avx2F32)->Apply(Shapes);
BENCHMARK(BM_Fp32ColdWeights)->Apply(Shapes);
BENCHMARK(BM_Bf16x3)->Apply(Shapes);
// The extractor's first 512 -> 512 conv (kernel 3, stride 2) on 10 s of audio, as a matmul.
BENCHMARK(BM_Bf16x3)
    ->Args({16000, 1536, 512})
    ->ArgNames({"M", "K", "N"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DynamicInt8PerRow)->Apply(Shapes);
BENCHMARK(BM_DynamicInt8PerTensor)->Apply(Shapes);
BENCHMARK(BM_StaticInt8)->Apply(Shapes);
BENCHMARK(BM_OneDnnU8S8S32)->Apply(Shapes);
BENCHMARK(BM_AmxU8S8S32)->Apply(Shapes);
BENCHMARK(BM_Avx2U8S8S32)->Apply(Shapes);
BENCHMARK(BM_AmxU8S8S32RowShare)
    ->Arg(1)
    ->Arg(72)
    ->ArgName("weights")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Avx2U8S8S32RowShare)
    ->Arg(1)
    ->Arg(72)
    ->ArgName("weights")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DynamicInt8PerRowGelu)
    ->Args({1500, 1024, 4096})
    ->ArgNames({"M", "K", "N"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace quasr::kernels

int main(int argc, char** argv) {
  const char* threads = std::getenv("QUASR_BENCH_THREADS");
  quasr::kernels::set_num_threads(threads ? std::atoi(threads) : 2);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
