#include "io/raw_tensor.h"

#include <cstring>

#include "core/error.h"

namespace quasr {
namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kF32, "F32", 4},   {DType::kF16, "F16", 2}, {DType::kBF16, "BF16", 2},
    {DType::kF64, "F64", 8},   {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},   {DType::kI8, "I8", 1},   {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
};

const DTypeInfo& info(DType dtype) {
  for (const DTypeInfo& entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  throw Error("invalid DType value " + std::to_string(static_cast<int>(dtype)));
}

template <typename T>
T load(const std::byte* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));  // the bytes may be unaligned
  return value;
}

float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf / nan
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal half: shift the mantissa up until its leading one is implicit.
    int e = -1;
    do {
      ++e;
      mantissa <<= 1;
    } while ((mantissa & 0x400u) == 0);
    bits = sign | static_cast<uint32_t>(112 - e) << 23 | ((mantissa & 0x3ffu) << 13);
  }
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

float bf16_to_float(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace

size_t dtype_size(DType dtype) {
  return info(dtype).size;
}
const char* dtype_name(DType dtype) {
  return info(dtype).name;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const DTypeInfo& entry : kDTypes) {
    if (name == entry.name) return entry.dtype;
  }
  return std::nullopt;
}

bool dtype_is_float(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16 ||
         dtype == DType::kF64;
}

void copy_to_f32(const RawTensor& t, float* out) {
  const size_t n = static_cast<size_t>(t.numel());
  const std::byte* p = t.data;
  switch (t.dtype) {
    case DType::kF32:
      if (n) std::memcpy(out, p, n * sizeof(float));
      return;
    case DType::kF16:
      for (size_t i = 0; i < n; ++i) out[i] = half_to_float(load<uint16_t>(p + 2 * i));
      return;
    case DType::kBF16:
      for (size_t i = 0; i < n; ++i) out[i] = bf16_to_float(load<uint16_t>(p + 2 * i));
      return;
    case DType::kF64:
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load<double>(p + 8 * i));
      return;
    default:
      throw Error(std::string("cannot convert a ") + dtype_name(t.dtype) + " tensor to float32");
  }
}

bool StateDict::contains(std::string_view name) const {
  return index_.count(name) != 0;
}

const StateDict::Entry& StateDict::entry(std::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    throw Error(source_ + ": tensor '" + prefix_ + std::string(name) + "' not found");
  }
  return entries_[it->second];
}

const RawTensor& StateDict::get(std::string_view name) const {
  return entry(name).tensor;
}

std::vector<float> StateDict::get_f32(std::string_view name) const {
  const Entry& e = entry(name);
  if (!dtype_is_float(e.tensor.dtype)) {
    throw Error(e.origin + ": tensor '" + e.full_name + "' has dtype " +
                dtype_name(e.tensor.dtype) + ", expected a floating-point dtype");
  }
  std::vector<float> values(static_cast<size_t>(e.tensor.numel()));
  copy_to_f32(e.tensor, values.data());
  return values;
}

std::vector<float> StateDict::get_f32(std::string_view name, const Shape& expected_shape) const {
  const Entry& e = entry(name);
  if (e.tensor.shape != expected_shape) {
    throw Error(e.origin + ": tensor '" + e.full_name + "' has shape " +
                shape_to_string(e.tensor.shape) + ", expected " + shape_to_string(expected_shape));
  }
  return get_f32(name);
}

int64_t StateDict::get_i64_scalar(std::string_view name) const {
  const Entry& e = entry(name);
  const RawTensor& t = e.tensor;
  if (t.numel() != 1 || t.shape.size() > 1) {
    throw Error(e.origin + ": tensor '" + e.full_name + "' has shape " + shape_to_string(t.shape) +
                ", expected a scalar");
  }
  switch (t.dtype) {
    case DType::kI64:
      return load<int64_t>(t.data);
    case DType::kI32:
      return load<int32_t>(t.data);
    case DType::kI16:
      return load<int16_t>(t.data);
    case DType::kI8:
      return load<int8_t>(t.data);
    case DType::kU8:
      return load<uint8_t>(t.data);
    default:
      throw Error(e.origin + ": tensor '" + e.full_name + "' has dtype " + dtype_name(t.dtype) +
                  ", expected an integer dtype");
  }
}

void StateDict::add_entry(std::string name, Entry entry) {
  if (contains(name)) {
    throw Error(entry.origin + ": duplicate tensor name '" + entry.full_name + "'");
  }
  index_.emplace(name, entries_.size());
  names_.push_back(std::move(name));
  entries_.push_back(std::move(entry));
}

void StateDict::add(std::string name, RawTensor tensor) {
  int64_t numel = tensor.numel();
  if (numel < 0 || tensor.nbytes != static_cast<size_t>(numel) * dtype_size(tensor.dtype)) {
    throw Error(source_ + ": tensor '" + name + "' holds " + std::to_string(tensor.nbytes) +
                " bytes, expected " + std::to_string(numel) + " x " +
                std::to_string(dtype_size(tensor.dtype)));
  }
  Entry e{std::move(tensor), prefix_ + name, source_};
  add_entry(std::move(name), std::move(e));
}

void StateDict::keep_alive(std::shared_ptr<const void> owner) {
  if (owner) owners_.push_back(std::move(owner));
}

StateDict StateDict::with_prefix_removed(std::string_view prefix) const {
  StateDict result(source_);
  result.prefix_ = prefix_ + std::string(prefix);
  result.owners_ = owners_;
  result.metadata_ = metadata_;
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i].compare(0, prefix.size(), prefix) == 0) {
      result.add_entry(names_[i].substr(prefix.size()), entries_[i]);
    }
  }
  return result;
}

void StateDict::merge(const StateDict& other) {
  // Check first so that a failed merge leaves this dict unchanged.
  for (size_t i = 0; i < other.names_.size(); ++i) {
    if (contains(other.names_[i])) {
      throw Error(source_ + " + " + other.source_ + ": tensor '" + other.names_[i] +
                  "' is present in both");
    }
  }
  for (size_t i = 0; i < other.names_.size(); ++i) {
    add_entry(other.names_[i], other.entries_[i]);
  }
  owners_.insert(owners_.end(), other.owners_.begin(), other.owners_.end());
  for (const auto& [key, value] : other.metadata_) metadata_.emplace(key, value);
  if (source_.empty()) {
    source_ = other.source_;
  } else if (!other.source_.empty() && other.source_ != source_) {
    source_ += " + " + other.source_;
  }
}

}  // namespace quasr
