// The oneDNN CPU engine and stream every kernel runs on.
//
// oneDNN (Debian's build) uses OpenMP, as does the rest of quasr, so thread
// count is one knob: set_num_threads() / OMP_NUM_THREADS.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <unordered_map>
#include <vector>

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

// Primitives created with user_scratchpad() and run through
// execute_with_thread_scratchpad() may execute concurrently from several
// threads: Debian's oneDNN is built without concurrent execution and shares
// the library-managed scratchpad of a primitive between calls.
dnnl::primitive_attr user_scratchpad(dnnl::primitive_attr attr);
// A page-aligned address (as oneDNN aligns its own scratchpads) inside
// buffer, grown to hold `bytes` from there.
uint8_t* page_aligned(std::vector<uint8_t>& buffer, size_t bytes);
void execute_with_thread_scratchpad(const dnnl::primitive& primitive,
                                    const dnnl::memory::desc& scratchpad,
                                    std::unordered_map<int, dnnl::memory>& args);

// Whether the ISA oneDNN will run (capped by DNNL_MAX_CPU_ISA) is one of `isas`.
bool onednn_isa_is_one_of(std::initializer_list<dnnl::cpu_isa> isas);

void set_num_threads(int threads);
int num_threads();

}  // namespace quasr::kernels
