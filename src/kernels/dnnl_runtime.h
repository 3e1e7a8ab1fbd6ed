// The oneDNN CPU engine and stream every kernel runs on.
//
// oneDNN (Debian's build) uses OpenMP, as does the rest of quasr, so thread
// count is one knob: set_num_threads() / OMP_NUM_THREADS.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

namespace quasr::kernels {

dnnl::engine& cpu_engine();
// One stream per calling thread: oneDNN streams are not thread-safe.
dnnl::stream& cpu_stream();

void set_num_threads(int threads);
int num_threads();

}  // namespace quasr::kernels
