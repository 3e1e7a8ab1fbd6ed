// A StateDict over tensors it owns, for tests that build checkpoints in
// memory instead of reading a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "io/raw_tensor.h"

namespace quasr::testing {

class InMemoryStateDict {
 public:
  explicit InMemoryStateDict(std::string source) : dict_(std::move(source)) {}

  void add_f32(const std::string& name, std::vector<float> values, const Shape& shape) {
    add(name, floats_.emplace_back(std::move(values)).data(), shape, DType::kF32);
  }
  void add_i8(const std::string& name, std::vector<int8_t> values, const Shape& shape) {
    add(name, int8s_.emplace_back(std::move(values)).data(), shape, DType::kI8);
  }
  const StateDict& dict() const { return dict_; }

 private:
  void add(const std::string& name, const void* data, const Shape& shape, DType dtype) {
    RawTensor t;
    t.dtype = dtype;
    t.shape = shape;
    t.data = static_cast<const std::byte*>(data);
    t.nbytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
    dict_.add(name, t);
  }

  StateDict dict_;
  // Deques: adding a tensor never moves the ones the dict already points at.
  std::deque<std::vector<float>> floats_;
  std::deque<std::vector<int8_t>> int8s_;
};

}  // namespace quasr::testing
