// The AVX2 instruction rates under quasr's AVX2 GEMMs: a loop of nothing but
// independent FMAs (fp32), or of VPMADDUBSW + VPMADDWD + VPADDD (u8 x s8 ->
// s32, the int8 kernel's step), on every OpenMP thread at once. Reports
// GMAC/s for all threads together: the ceiling a GEMM on these
// instructions can reach here, and so the floor under a model's RTF
// (GMAC per audio second / this rate).
//
//   build-*/bench/quasr_avx2_peak_bench   (OMP_NUM_THREADS=1 for one core)
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdint>

#include <omp.h>

namespace {

constexpr int64_t kSteps = 1 << 20;

__attribute__((target("avx2,fma"), noinline)) float fma_loop(int64_t steps) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(0.9999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < 12; ++i) sum = _mm256_add_ps(sum, acc[i]);
  return _mm256_cvtss_f32(sum);
}

__attribute__((target("avx2,fma"), noinline)) int32_t maddubs_loop(int64_t steps) {
  __m256i acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_epi32(i);
  __m256i u = _mm256_set1_epi8(3);
  const __m256i w = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
  for (int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i)
      acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(u, w), ones));
    u = _mm256_add_epi8(u, ones);
  }
  __m256i sum = acc[0];
  for (int i = 1; i < 12; ++i) sum = _mm256_add_epi32(sum, acc[i]);
  return _mm256_extract_epi32(sum, 0);
}

template <typename Loop>
void run_on_all_threads(benchmark::State& state, Loop loop, double macs_per_step) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    return state.SkipWithError("no AVX2");
  int threads = 1;
  for (auto _ : state) {
#pragma omp parallel
    {
      benchmark::DoNotOptimize(loop(kSteps));
#pragma omp single
      threads = omp_get_num_threads();
    }
  }
  state.counters["GMAC"] = benchmark::Counter(macs_per_step * kSteps * threads * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Avx2FmaPeak(benchmark::State& state) { run_on_all_threads(state, fma_loop, 12 * 8); }
void BM_Avx2MaddubsPeak(benchmark::State& state) {
  run_on_all_threads(state, maddubs_loop, 12 * 32);
}

BENCHMARK(BM_Avx2FmaPeak)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Avx2MaddubsPeak)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
