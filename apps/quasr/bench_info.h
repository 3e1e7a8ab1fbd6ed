// Facts about the run that bench and merge record next to the numbers, so two
// result files can be compared later: build, machine, and model footprint.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "eval/run_result.h"
#include "model/asr_model.h"

namespace quasr::cli {

// Project version from CMake (PROJECT_VERSION) and the git commit of the
// source tree at configure time ("" when it was not a git checkout).
std::string quasr_version();
std::string quasr_commit();

// Current UTC time as ISO 8601 with seconds, e.g. "2026-11-27T10:00:00Z".
std::string utc_now_iso8601();

// CPU model, ISA level the kernels dispatch on, worker threads, host name.
MachineInfo machine_info(int threads);

// Bytes on disk of the weight files under a model folder (recursively):
// *.safetensors, *.bin, *.ckpt, *.pt, *.pth, *.npy, except tokenizer files,
// whose size says nothing about the encoder.
int64_t model_weight_file_bytes(const std::string& directory);

// Parameter bytes per dtype over the module tree, keys lower-case dtype names
// as recorded by the loaders ("f32", "i8", ...).
std::map<std::string, int64_t> param_bytes_by_dtype(const model::AsrModel& model);

// "fp32" when every module is fp32, else the distinct non-fp32 schemes joined
// with "+" (e.g. "int8-dynamic").
std::string model_kind(const model::AsrModel& model);

// Default display name of a model folder: its last path component.
std::string default_model_name(const std::string& directory);

}  // namespace quasr::cli
