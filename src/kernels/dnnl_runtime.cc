#include "kernels/dnnl_runtime.h"

#include <omp.h>

#include <cstring>

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

void set_num_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}

int num_threads() {
  return omp_get_max_threads();
}

}  // namespace quasr::kernels
