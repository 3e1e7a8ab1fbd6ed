#include "kernels/weight_memory.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "kernels/dnnl_runtime.h"

namespace quasr::kernels {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kSmallPage = 4096;
constexpr size_t kMappingBytes = size_t{64} << 20;

size_t round_up(size_t bytes, size_t to) {
  return (bytes + to - 1) / to * to;
}

// One mapping weights are carved from; unmapped when the last weight in it
// is gone.
class Mapping {
 public:
  explicit Mapping(size_t usable) {
    // Over-allocate by a huge page so the usable part starts on a boundary.
    size_ = usable + kHugePage;
    void* raw = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    raw_ = static_cast<uint8_t*>(raw);
    base_ = raw_ + (round_up(reinterpret_cast<uintptr_t>(raw_), kHugePage) -
                    reinterpret_cast<uintptr_t>(raw_));
    usable_ = usable;
    // Advisory: without THP the mapping simply keeps 4 KiB pages.
    madvise(base_, usable_, MADV_HUGEPAGE);
  }
  ~Mapping() { munmap(raw_, size_); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  uint8_t* base() const { return base_; }
  size_t usable() const { return usable_; }

 private:
  uint8_t* raw_;
  uint8_t* base_;
  size_t size_;
  size_t usable_;
};

// Hands out page-aligned blocks from the current mapping, a new one when it
// is full. Freed blocks give their pages back to the system at once (the
// mapping is reused only by later blocks), so replacing a model's weights,
// as the quantizer does, does not keep the old ones resident.
class Arena {
 public:
  std::shared_ptr<uint8_t> allocate(size_t bytes) {
    bytes = round_up(bytes, kSmallPage);
    std::lock_guard<std::mutex> lock(mutex_);
    std::shared_ptr<Mapping> mapping = current_.lock();
    if (!mapping || used_ + bytes > mapping->usable()) {
      mapping = std::make_shared<Mapping>(std::max(kMappingBytes, round_up(bytes, kHugePage)));
      current_ = mapping;
      used_ = 0;
    }
    uint8_t* block = mapping->base() + used_;
    used_ += bytes;
    return std::shared_ptr<uint8_t>(
        block, [mapping, bytes](uint8_t* p) { madvise(p, bytes, MADV_DONTNEED); });
  }

 private:
  std::mutex mutex_;
  std::weak_ptr<Mapping> current_;
  size_t used_ = 0;
};

Arena& arena() {
  static Arena instance;
  return instance;
}

}  // namespace

bool huge_page_weights() {
  static const bool enabled = [] {
    const char* value = std::getenv("QUASR_HUGE_PAGES");
    return value == nullptr || std::strcmp(value, "0") != 0;
  }();
  return enabled;
}

WeightMemory::WeightMemory(const dnnl::memory::desc& desc) {
  if (!huge_page_weights()) {
    memory_ = dnnl::memory(desc, cpu_engine());
    return;
  }
  storage_ = arena().allocate(desc.get_size());
  memory_ = dnnl::memory(desc, cpu_engine(), storage_.get());
}

void WeightMemory::fill_from(const dnnl::memory& source) {
  // Handles to the same memory: execute() takes non-const ones.
  dnnl::memory from = source, to = memory_;
  dnnl::reorder(from, to).execute(cpu_stream(), from, to);
}

}  // namespace quasr::kernels
