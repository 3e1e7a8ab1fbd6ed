// The oneDNN CPU engine and stream every kernel runs on.
//
// oneDNN (Debian's build) uses OpenMP, as does the rest of quasr, so thread
// count is one knob: set_num_threads() / OMP_NUM_THREADS.
#pragma once

#include <cstdint>

#include <oneapi/dnnl/dnnl.hpp>

namespace quasr::kernels {

dnnl::engine& cpu_engine();
// One stream per calling thread: oneDNN streams are not thread-safe.
dnnl::stream& cpu_stream();

// A copy of `count` floats as a 1-D f32 oneDNN memory (bias vectors).
dnnl::memory make_f32_vector(const float* values, int64_t count);

// `packed` itself when a primitive wants its layout, else a reordered copy:
// oneDNN may prefer another blocking for some shapes.
dnnl::memory weights_in_layout(const dnnl::memory& packed, const dnnl::memory::desc& wanted);

void set_num_threads(int threads);
int num_threads();

}  // namespace quasr::kernels
