#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/mapped_file.h"

namespace quasr {
namespace {

using Json = nlohmann::ordered_json;

// Same ceiling as the reference implementation: real headers are a few MB.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
constexpr size_t kDataAlignment = 64;

struct Span {
  std::string name;
  uint64_t begin;
  uint64_t end;
};

uint64_t read_u64_le(const std::byte* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<uint8_t>(p[i]);
  return value;
}

// Non-negative integer that fits in int64; anything else is a format error.
uint64_t json_uint(const Json& value, const std::string& where, const std::string& path) {
  if (!value.is_number_unsigned() ||
      value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    throw Error(path + ": " + where + " must be a non-negative integer, got " + value.dump());
  }
  return value.get<uint64_t>();
}

std::map<std::string, std::string> parse_metadata(const Json& value, const std::string& path) {
  if (!value.is_object()) throw Error(path + ": __metadata__ must be a JSON object");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      throw Error(path + ": __metadata__ value for '" + key + "' must be a string, got " +
                  item.dump());
    }
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

// Parses one tensor entry; `data_size` bounds its offsets.
RawTensor parse_entry(const std::string& name, const Json& entry, const std::string& path,
                      uint64_t data_size, Span* span) {
  const std::string where = "tensor '" + name + "'";
  if (!entry.is_object()) throw Error(path + ": " + where + " entry must be a JSON object");
  auto dtype_it = entry.find("dtype");
  auto shape_it = entry.find("shape");
  auto offsets_it = entry.find("data_offsets");
  if (dtype_it == entry.end() || shape_it == entry.end() || offsets_it == entry.end()) {
    throw Error(path + ": " + where + " needs dtype, shape and data_offsets");
  }
  if (!dtype_it->is_string()) throw Error(path + ": " + where + " dtype must be a string");
  std::string dtype_text = dtype_it->get<std::string>();
  std::optional<DType> dtype = dtype_from_name(dtype_text);
  if (!dtype) throw Error(path + ": " + where + " has unknown dtype '" + dtype_text + "'");

  RawTensor tensor;
  tensor.dtype = *dtype;
  if (!shape_it->is_array()) throw Error(path + ": " + where + " shape must be an array");
  uint64_t numel = 1;
  bool overflow = false;
  for (const Json& extent : *shape_it) {
    uint64_t n = json_uint(extent, where + " shape", path);
    tensor.shape.push_back(static_cast<int64_t>(n));
    if (n != 0 && numel > std::numeric_limits<uint64_t>::max() / 8 / n) overflow = true;
    numel *= n;
  }
  if (!offsets_it->is_array() || offsets_it->size() != 2) {
    throw Error(path + ": " + where + " data_offsets must be [begin, end]");
  }
  uint64_t begin = json_uint((*offsets_it)[0], where + " data_offsets", path);
  uint64_t end = json_uint((*offsets_it)[1], where + " data_offsets", path);
  if (begin > end || end > data_size) {
    throw Error(path + ": " + where + " data_offsets [" + std::to_string(begin) + ", " +
                std::to_string(end) + "] out of range (data section holds " +
                std::to_string(data_size) + " bytes)");
  }
  uint64_t nbytes = numel * dtype_size(*dtype);
  if (overflow || nbytes != end - begin) {
    throw Error(path + ": " + where + " has shape " + shape_to_string(tensor.shape) + " x " +
                dtype_text + " but data_offsets span " + std::to_string(end - begin) + " bytes");
  }
  tensor.nbytes = static_cast<size_t>(nbytes);
  *span = Span{name, begin, end};
  return tensor;
}

void check_no_overlap(std::vector<Span> spans, const std::string& path) {
  // Empty tensors occupy no bytes and cannot overlap anything.
  spans.erase(
      std::remove_if(spans.begin(), spans.end(), [](const Span& s) { return s.begin == s.end; }),
      spans.end());
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i) {
    const Span& a = spans[i - 1];
    const Span& b = spans[i];
    if (b.begin < a.end) {
      throw Error(path + ": tensors '" + a.name + "' [" + std::to_string(a.begin) + ", " +
                  std::to_string(a.end) + ") and '" + b.name + "' [" + std::to_string(b.begin) +
                  ", " + std::to_string(b.end) + ") overlap in the data section");
    }
  }
}

}  // namespace

StateDict load_safetensors(const std::string& path) {
  std::shared_ptr<const MappedFile> file = MappedFile::open(path);
  const size_t size = file->size();
  if (size < 8) {
    throw Error(path + ": file is " + std::to_string(size) +
                " bytes, too short for a safetensors header");
  }
  const uint64_t header_size = read_u64_le(file->data());
  if (header_size > size - 8) {
    throw Error(path + ": header length " + std::to_string(header_size) +
                " runs past the end of the " + std::to_string(size) + "-byte file (truncated?)");
  }
  if (header_size > kMaxHeaderBytes) {
    throw Error(path + ": header length " + std::to_string(header_size) + " exceeds the " +
                std::to_string(kMaxHeaderBytes) + "-byte limit");
  }
  const char* header_begin = reinterpret_cast<const char*>(file->data() + 8);
  if (header_size == 0 || header_begin[0] != '{') {
    throw Error(path + ": header is not a JSON object (not a safetensors file?)");
  }
  Json header;
  try {
    header = Json::parse(header_begin, header_begin + header_size);
  } catch (const Json::exception& e) {
    throw Error(path + ": malformed JSON header: " + e.what());
  }
  if (!header.is_object()) throw Error(path + ": header is not a JSON object");

  const std::byte* data = file->data() + 8 + header_size;
  const uint64_t data_size = size - 8 - header_size;
  StateDict dict(path);
  std::vector<Span> spans;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      dict.set_metadata(parse_metadata(entry, path));
      continue;
    }
    Span span;
    RawTensor tensor = parse_entry(name, entry, path, data_size, &span);
    tensor.data = data + span.begin;
    spans.push_back(std::move(span));
    dict.add(name, std::move(tensor));
  }
  check_no_overlap(std::move(spans), path);
  dict.keep_alive(file);
  return dict;
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, RawTensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  uint64_t offset = 0;
  std::set<std::string> seen;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__" || !seen.insert(name).second) {
      throw Error(path + ": cannot save tensor name '" + name + "' (reserved or duplicate)");
    }
    int64_t numel = t.numel();
    if (numel < 0 || t.nbytes != static_cast<size_t>(numel) * dtype_size(t.dtype) ||
        (t.nbytes > 0 && t.data == nullptr)) {
      throw Error(path + ": tensor '" + name + "' has " + std::to_string(t.nbytes) +
                  " bytes for shape " + shape_to_string(t.shape) + " x " + dtype_name(t.dtype));
    }
    header[name] = {{"dtype", dtype_name(t.dtype)},
                    {"shape", t.shape},
                    {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string text = header.dump();
  // The spec allows trailing spaces; pad so the data section is 64-byte aligned.
  size_t padded = (8 + text.size() + kDataAlignment - 1) / kDataAlignment * kDataAlignment - 8;
  text.append(padded - text.size(), ' ');

  AtomicFileWriter out(path);
  unsigned char length[8];
  for (int i = 0; i < 8; ++i)
    length[i] = static_cast<unsigned char>(uint64_t{text.size()} >> (8 * i));
  out.write(length, sizeof length);
  out.write(text.data(), text.size());
  for (const auto& [name, t] : tensors) out.write(t.data, t.nbytes);
  out.commit();
}

void save_safetensors(const std::string& path, const StateDict& dict) {
  std::vector<std::pair<std::string, RawTensor>> tensors;
  tensors.reserve(dict.size());
  for (const std::string& name : dict.names()) tensors.emplace_back(name, dict.get(name));
  save_safetensors(path, tensors, dict.metadata());
}

}  // namespace quasr
