// The vector kernels around the GEMMs, one thread, data in L1: exact GELU
// (every FFN1 output and every extractor frame of large), a LayerNorm row
// (every transformer row, twice per layer) and a row's dynamic int8
// quantization (every int8 linear's input). Reports values per second.
//
//   build-*/bench/quasr_elementwise_bench
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include <omp.h>

#include "kernels/elementwise.h"
#include "kernels/int8/int8_linear.h"

namespace quasr::kernels {
namespace {

std::vector<float> ramp(int64_t n, float scale) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = float(i % 97 - 48) * scale;
  return v;
}

void report(benchmark::State& state, int64_t values) {
  state.counters["values"] = benchmark::Counter(static_cast<double>(values),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Gelu(benchmark::State& state) {
  const int64_t n = state.range(0);
  const std::vector<float> input = ramp(n, 0.07f);
  std::vector<float> x = input;
  // GELU applied over and over drifts into denormals: each pass starts from
  // the input again (the 16 KiB copy is timed too, ~5 % of the pass).
  for (auto _ : state) {
    x = input;
    gelu_erf(x.data(), n);
    benchmark::DoNotOptimize(x.data());
  }
  report(state, n);
}

void BM_LayerNormRow(benchmark::State& state) {
  const int64_t n = state.range(0);
  const std::vector<float> x = ramp(n, 0.03f), gamma(static_cast<size_t>(n), 1.1f),
                           beta(static_cast<size_t>(n), 0.1f);
  std::vector<float> y(static_cast<size_t>(n));
  for (auto _ : state) layer_norm_row(x.data(), n, gamma.data(), beta.data(), 1e-5f, y.data());
  report(state, n);
}

// A dynamic int8 Linear's per-row input quantization (min/max, then the
// bytes), at the attention projections' and FFN2's widths.
void BM_QuantizeRow(benchmark::State& state) {
  const int64_t k = state.range(0);
  const std::vector<float> w(static_cast<size_t>(32 * k), 0.01f), x = ramp(k, 0.05f);
  const Int8Weights weights = Int8Weights::quantize(w.data(), 32, k, true);
  const DynamicInt8Linear linear(weights, nullptr, Activation::kNone);
  std::vector<uint8_t> q(static_cast<size_t>(k));
  quant::QuantParams params;
  for (auto _ : state) linear.quantize_row(x.data(), q.data(), &params);
  report(state, k);
}

BENCHMARK(BM_Gelu)->Arg(4096);
BENCHMARK(BM_QuantizeRow)->Arg(1024)->Arg(4096);
BENCHMARK(BM_LayerNormRow)->Arg(512)->Arg(1024);

}  // namespace
}  // namespace quasr::kernels

int main(int argc, char** argv) {
  omp_set_num_threads(1);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
