// Loading torch.save checkpoints (zip format, torch >= 1.6) without Python.
#pragma once

#include <string>

#include "io/raw_tensor.h"

namespace quasr {

// Reads a torch.save zip: finds the single "<top>/data.pkl" entry (any top
// folder name: "archive", "pytorch_model", ...), unpickles it with the
// data-only unpickler and reads storages from "<top>/data/<key>".
//
// Accepted pickle globals: collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter(_with_state), torch.device and the
// torch.<T>Storage types (Float, Half, BFloat16, Double, Long, Int, Short,
// Char, Byte, Bool). Any other global is refused before anything else
// happens: "<file>: refusing pickle global 'posix.system' (only tensor state
// dicts are accepted)".
//
// Which tensors are returned: the top object must be a dict. If it holds no
// tensors directly but has a dict under "state_dict" (else "model"), that dict
// is used instead (training checkpoints). Tensors are then collected in pickle
// order; values that are dicts are flattened with "key." prefixes; other
// values (ints, strings, None, lists, _metadata) are ignored.
//
// Tensors with a storage offset or non-contiguous strides are copied to
// contiguous buffers; contiguous ones point into the storage read from the zip.
// Tensors sharing a storage share one read. Storages are read into memory
// (whole checkpoint resident). Big-endian checkpoints are refused.
// Legacy (pre-1.6) files, truncated or corrupt zips -> quasr::Error naming the file.
StateDict load_torch_checkpoint(const std::string& path);

// Picks the format by content: a zip (torch.save) or a safetensors header.
// Legacy torch files and anything else are refused with a one-line error.
StateDict load_state_dict(const std::string& path);

}  // namespace quasr
