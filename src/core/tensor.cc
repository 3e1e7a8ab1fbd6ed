#include "core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <new>

#include <sys/mman.h>

namespace quasr {

std::string shape_to_string(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

int64_t shape_numel(const Shape& shape) {
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  return count;
}

void AlignedBuffer::Free::operator()(float* p) const {
  std::free(p);
}

void AlignedBuffer::reserve(size_t count) {
  if (count <= capacity_) return;
  // Large activation buffers (the extractor's first output is 6.5 MB per audio
  // second) are first touched when an utterance longer than any before
  // arrives; in 4 KiB pages those faults cost ~10 % of a benchmark over clips
  // of mixed length. Transparent huge pages (THP is "madvise" on Debian) cut
  // the faults 512-fold.
  constexpr size_t kHugePage = size_t{1} << 21;
  const bool huge = count * sizeof(float) >= kHugePage;
  const size_t align = huge ? kHugePage : 64;
  // Round up to whole cache lines (huge pages) so vector kernels may read a full line.
  size_t bytes = ((count * sizeof(float) + align - 1) / align) * align;
  void* memory = std::aligned_alloc(align, bytes);
  if (!memory) throw std::bad_alloc();
  if (huge) madvise(memory, bytes, MADV_HUGEPAGE);  // advisory: failure changes nothing
  data_.reset(static_cast<float*>(memory));
  capacity_ = bytes / sizeof(float);
}

void Tensor::resize(Shape shape) {
  numel_ = shape_numel(shape);
  storage_.reserve(static_cast<size_t>(numel_));
  shape_ = std::move(shape);
}

void Tensor::resize_preserving(Shape shape) {
  int64_t count = shape_numel(shape);
  if (static_cast<size_t>(count) > storage_.capacity()) {
    AlignedBuffer grown;
    grown.reserve(static_cast<size_t>(count));
    std::copy(data(), data() + numel_, grown.data());
    storage_ = std::move(grown);
  }
  numel_ = count;
  shape_ = std::move(shape);
}

void Tensor::fill(float value) {
  std::fill(data(), data() + numel_, value);
}

}  // namespace quasr
