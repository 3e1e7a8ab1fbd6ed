// RawTensor and StateDict: named tensors as they sit in a checkpoint file.
//
// A RawTensor is a typed, contiguous, row-major view of bytes owned by
// something else (an mmap of a safetensors file, the storages read out of a
// torch zip). The StateDict holding it keeps that owner alive, and so does
// every StateDict derived from it (copies, with_prefix_removed(), merge()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"

namespace quasr {

enum class DType { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };

// Bytes per element (kBool is one byte, as in safetensors and torch).
size_t dtype_size(DType dtype);
// The safetensors spelling: "F32", "F16", "BF16", "F64", "I64", "I32", "I16",
// "I8", "U8", "BOOL".
const char* dtype_name(DType dtype);
// Inverse of dtype_name(); nullopt for any other string (U16, F8_E4M3, ...).
std::optional<DType> dtype_from_name(std::string_view name);
bool dtype_is_float(DType dtype);  // F32, F16, BF16, F64

struct RawTensor {
  DType dtype = DType::kF32;
  Shape shape;                      // [] for a scalar
  const std::byte* data = nullptr;  // contiguous row-major; NOT necessarily aligned
  size_t nbytes = 0;                // == shape_numel(shape) * dtype_size(dtype)

  int64_t numel() const { return shape_numel(shape); }
};

// Converts a floating tensor (F32/F16/BF16/F64) to float32 into `out`, which
// must hold t.numel() floats. Throws quasr::Error for other dtypes.
void copy_to_f32(const RawTensor& t, float* out);

// An ordered name -> RawTensor map plus ownership of the bytes it points to.
// Names keep the order of the file (safetensors header order, pickle order).
// Lookups and copies are cheap; the tensor bytes are shared, never copied.
class StateDict {
 public:
  StateDict() = default;
  explicit StateDict(std::string source) : source_(std::move(source)) {}

  // The file this came from (for error messages); "a + b" after merge().
  const std::string& source() const { return source_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  bool contains(std::string_view name) const;
  // Throws quasr::Error "<file>: tensor '<name>' not found".
  const RawTensor& get(std::string_view name) const;
  // Names in file order.
  const std::vector<std::string>& names() const { return names_; }

  // The tensor converted to float32 (from F32/F16/BF16/F64). Throws
  // "<file>: tensor 'name' has shape [a, b], expected [c, d]" on a mismatch and
  // "<file>: tensor 'name' has dtype I64, expected a floating-point dtype".
  std::vector<float> get_f32(std::string_view name, const Shape& expected_shape) const;
  // Same, accepting any shape (read it from get(name).shape).
  std::vector<float> get_f32(std::string_view name) const;
  // A one-element integer tensor (shape [] or [1]; I64/I32/I16/I8/U8) such as
  // BatchNorm's num_batches_tracked.
  int64_t get_i64_scalar(std::string_view name) const;

  // safetensors "__metadata__" (empty for torch checkpoints).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Only the tensors whose name starts with `prefix`, with the prefix removed
  // ("model.encoder.x" -> "encoder.x" for prefix "model."). Errors raised by
  // the result still name the full original tensor name.
  StateDict with_prefix_removed(std::string_view prefix) const;
  // Adds every tensor of `other` (and its owners); throws quasr::Error on a
  // name present in both.
  void merge(const StateDict& other);

  // --- for loaders ---
  // Adds a tensor; nbytes must match shape and dtype. Throws on a duplicate.
  void add(std::string name, RawTensor tensor);
  // Keeps `owner` (an mmap, a buffer) alive as long as this dict or any
  // StateDict derived from it.
  void keep_alive(std::shared_ptr<const void> owner);
  void set_metadata(std::map<std::string, std::string> metadata) {
    metadata_ = std::move(metadata);
  }

 private:
  struct Entry {
    RawTensor tensor;
    std::string full_name;  // name in the file, before with_prefix_removed()
    std::string origin;     // file it came from
  };
  const Entry& entry(std::string_view name) const;
  void add_entry(std::string name, Entry entry);

  std::string source_;
  std::string prefix_;  // removed by with_prefix_removed(); used in "not found" errors
  std::vector<std::string> names_;
  std::vector<Entry> entries_;
  std::map<std::string, size_t, std::less<>> index_;
  std::vector<std::shared_ptr<const void>> owners_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace quasr
