// NumPy .npy files of float32 arrays (for --logits output and test references).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace quasr {

struct NpyArray {
  std::vector<float> data;  // C order
  Shape shape;              // [] for a 0-d array (one element)
};

// Writes format version 1.0, dtype '<f4', C order; the header is padded so the
// data starts at a multiple of 64 bytes. data.size() must equal
// shape_numel(shape). Atomic (AtomicFileWriter): on any error no file appears.
void write_npy_f32(const std::string& path, std::span<const float> data, const Shape& shape);
void write_npy_f32(const std::string& path, const Tensor& tensor);

// Reads versions 1.0/2.0/3.0 with dtype '<f4' or '<f8' (converted to float32),
// C order. Anything else (other dtypes, Fortran order, a size that does not
// match the shape) -> quasr::Error naming the file.
NpyArray read_npy_f32(const std::string& path);

}  // namespace quasr
