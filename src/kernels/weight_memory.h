// Memory for packed weights, backed by 2 MiB pages where the kernel allows.
//
// Every weight of a model is read once per utterance, mostly from DRAM: with
// 4 KiB pages that is a TLB miss per 4 KiB of weights (a two-dimensional page
// walk in a VM) and oneDNN's GEMMs stall on them. On the project's 2-core VM
// the large int8 feed-forward matmuls took a third less time from 2 MiB pages
// (ONEDNN_VERBOSE sums), the base int8-all forward ~15 % and base fp32 ~10 %.
// Weights are carved from 64 MiB mappings marked MADV_HUGEPAGE (transparent
// huge pages in "madvise" mode, the Debian default), back to back, so the only
// resident overhead is the last, partly used huge page of each mapping.
//
// QUASR_HUGE_PAGES=0 in the environment turns this off (oneDNN allocates the
// weights itself), for comparison or where THP faults slow model loading.
#pragma once

#include <cstdint>
#include <memory>

#include <oneapi/dnnl/dnnl.hpp>

namespace quasr::kernels {

class WeightMemory {
 public:
  WeightMemory() = default;
  // Uninitialised memory for desc on the CPU engine.
  explicit WeightMemory(const dnnl::memory::desc& desc);

  // count bytes for a kernel's own packing (quasr's AMX kernels).
  static WeightMemory of_bytes(int64_t count) {
    return WeightMemory(
        dnnl::memory::desc({count}, dnnl::memory::data_type::s8, dnnl::memory::format_tag::a));
  }

  const dnnl::memory& get() const { return memory_; }
  int8_t* bytes() const { return static_cast<int8_t*>(memory_.get_data_handle()); }
  // Writes source into this memory in its layout (a oneDNN reorder on the
  // CPU stream; the caller waits for the stream).
  void fill_from(const dnnl::memory& source);

 private:
  std::shared_ptr<uint8_t> storage_;  // null when oneDNN owns the memory
  dnnl::memory memory_;
};

// Whether weights go to huge-page mappings (QUASR_HUGE_PAGES unset or not 0).
bool huge_page_weights();

}  // namespace quasr::kernels
