// Tensor: a row-major float32 array with 64-byte aligned storage.
//
// Activations in the forward pass live in Tensors that are resized, not
// reallocated, between utterances: resize() keeps the capacity it already has,
// so a steady-state forward over same-or-shorter inputs performs no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace quasr {

using Shape = std::vector<int64_t>;

std::string shape_to_string(const Shape& shape);
int64_t shape_numel(const Shape& shape);

// Owning, aligned, uninitialised float storage that only grows.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  void reserve(size_t count);
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  size_t capacity() const { return capacity_; }

 private:
  struct Free {
    void operator()(float* p) const;
  };
  std::unique_ptr<float, Free> data_;
  size_t capacity_ = 0;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape) { resize(std::move(shape)); }

  // Contents are unspecified after a resize that grows the storage.
  void resize(Shape shape);
  // Keeps the first min(old, new) elements, in row-major order.
  void resize_preserving(Shape shape);
  void fill(float value);

  float* data() { return storage_.data(); }
  const float* data() const { return storage_.data(); }
  const Shape& shape() const { return shape_; }
  int64_t dim(int axis) const { return shape_[axis < 0 ? axis + shape_.size() : axis]; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return numel_; }

 private:
  Shape shape_;
  int64_t numel_ = 0;
  AlignedBuffer storage_;
};

// buffer.data() with at least count elements: scratch vectors that only
// grow, so a steady state allocates nothing.
template <typename T>
T* grow(std::vector<T>& buffer, int64_t count) {
  if (buffer.size() < static_cast<size_t>(count)) buffer.resize(static_cast<size_t>(count));
  return buffer.data();
}

}  // namespace quasr
