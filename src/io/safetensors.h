// safetensors reader and writer (https://github.com/huggingface/safetensors).
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {"key": "value"}}, then the data section; offsets are
// relative to its start. The JSON may be followed by spaces (padding).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/raw_tensor.h"

namespace quasr {

// Maps `path` read-only (MAP_PRIVATE) and validates the whole header before
// returning: length fields, JSON syntax, dtypes, shape x dtype size == span of
// data_offsets, offsets inside the data section, no overlapping tensors,
// __metadata__ a string->string object. Tensors point into the mapping (no
// copy; the data may be unaligned), which the StateDict keeps alive.
// Tensors keep header order; metadata() holds __metadata__.
// Throws quasr::Error "<path>: <problem>" on anything malformed.
StateDict load_safetensors(const std::string& path);

// Writes tensors in the given order, contiguous in the data section, after a
// header padded with spaces so that the data section starts at a multiple of
// 64 bytes. Atomic: the file appears complete or not at all (AtomicFileWriter).
// Throws quasr::Error on duplicate names, a name "__metadata__", or
// tensor.nbytes != numel x dtype_size.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, RawTensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// All tensors of `dict` in its names() order, with its metadata().
void save_safetensors(const std::string& path, const StateDict& dict);

}  // namespace quasr
