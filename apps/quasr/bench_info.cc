#include "bench_info.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <set>

#include "core/cpu_features.h"

#ifndef QUASR_VERSION
#define QUASR_VERSION "unknown"
#endif
#ifndef QUASR_GIT_COMMIT
#define QUASR_GIT_COMMIT ""
#endif

namespace quasr::cli {

namespace fs = std::filesystem;

std::string quasr_version() {
  return QUASR_VERSION;
}
std::string quasr_commit() {
  return QUASR_GIT_COMMIT;
}

std::string utc_now_iso8601() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

MachineInfo machine_info(int threads) {
  MachineInfo info;
  info.cpu_model = cpu_model_name();
  info.isa = isa_name(isa_level());
  info.threads = threads;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) info.hostname = host;
  return info;
}

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool is_weight_file(const fs::path& path) {
  static const std::set<std::string> kWeightExtensions = {".safetensors", ".bin", ".ckpt",
                                                          ".pt",          ".pth", ".npy"};
  const std::string name = lower(path.filename().string());
  if (name.find("tokenizer") != std::string::npos) return false;
  return kWeightExtensions.count(lower(path.extension().string())) > 0;
}

int64_t dtype_bytes(const std::string& dtype) {
  static const std::map<std::string, int64_t> kBytes = {
      {"f64", 8}, {"i64", 8},  {"u64", 8},     {"f32", 4},     {"i32", 4},  {"u32", 4},
      {"f16", 2}, {"bf16", 2}, {"i16", 2},     {"u16", 2},     {"i8", 1},   {"s8", 1},
      {"u8", 1},  {"bool", 1}, {"f8_e4m3", 1}, {"f8_e5m2", 1}, {"int8", 1}, {"uint8", 1}};
  auto it = kBytes.find(dtype);
  // An unknown name is most likely a 4-byte type (the loaders' default is F32).
  return it == kBytes.end() ? 4 : it->second;
}

}  // namespace

int64_t model_weight_file_bytes(const std::string& directory) {
  int64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(directory, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_regular_file(ec) && is_weight_file(it->path())) {
      total += static_cast<int64_t>(it->file_size(ec));
    }
  }
  return total;
}

std::map<std::string, int64_t> param_bytes_by_dtype(const model::AsrModel& model) {
  std::map<std::string, int64_t> bytes;
  for (const model::ModuleInfo& module : model.modules()) {
    for (const model::ParamInfo& param : module.params) {
      const std::string dtype = lower(param.dtype);
      bytes[dtype] += shape_numel(param.shape) * dtype_bytes(dtype);
    }
  }
  return bytes;
}

std::string model_kind(const model::AsrModel& model) {
  std::set<std::string> schemes;
  for (const model::ModuleInfo& module : model.modules()) {
    if (module.scheme != "fp32") schemes.insert(module.scheme);
  }
  if (schemes.empty()) return "fp32";
  std::string kind;
  for (const std::string& scheme : schemes) kind += (kind.empty() ? "" : "+") + scheme;
  return kind;
}

std::string default_model_name(const std::string& directory) {
  fs::path path(directory);
  if (path.filename().empty()) path = path.parent_path();  // "dir/"
  std::string name = path.filename().string();
  return name.empty() || name == "." || name == ".." ? directory : name;
}

}  // namespace quasr::cli
