#include "kernels/dnnl_runtime.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace quasr::kernels {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpu_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

dnnl::memory make_f32_vector(const float* values, int64_t count) {
  dnnl::memory vector({{count}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a},
                      cpu_engine());
  std::memcpy(vector.get_data_handle(), values, sizeof(float) * count);
  return vector;
}

dnnl::memory weights_in_layout(const dnnl::memory& packed, const dnnl::memory::desc& wanted) {
  if (wanted == packed.get_desc()) return packed;
  dnnl::memory source = packed;
  dnnl::memory weights(wanted, cpu_engine());
  dnnl::reorder(source, weights).execute(cpu_stream(), source, weights);
  cpu_stream().wait();
  return weights;
}

dnnl::primitive_attr user_scratchpad(dnnl::primitive_attr attr) {
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

uint8_t* page_aligned(std::vector<uint8_t>& buffer, size_t bytes) {
  constexpr size_t kAlign = 4096;
  if (buffer.size() < bytes + kAlign) buffer.resize(bytes + kAlign);
  uint8_t* base = buffer.data();
  return base + (kAlign - reinterpret_cast<uintptr_t>(base) % kAlign) % kAlign;
}

void execute_with_thread_scratchpad(const dnnl::primitive& primitive,
                                    const dnnl::memory::desc& scratchpad,
                                    std::unordered_map<int, dnnl::memory>& args) {
  thread_local std::vector<uint8_t> buffer;
  uint8_t* aligned = page_aligned(buffer, scratchpad.get_size());
  args[DNNL_ARG_SCRATCHPAD] = dnnl::memory(scratchpad, cpu_engine(), aligned);
  primitive.execute(cpu_stream(), args);
  cpu_stream().wait();
}

bool onednn_isa_is_one_of(std::initializer_list<dnnl::cpu_isa> isas) {
  const dnnl::cpu_isa effective = dnnl::get_effective_cpu_isa();
  return std::find(isas.begin(), isas.end(), effective) != isas.end();
}

void set_num_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}

int num_threads() {
  return omp_get_max_threads();
}

}  // namespace quasr::kernels
