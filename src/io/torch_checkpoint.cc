#include "io/torch_checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "core/error.h"
#include "io/safetensors.h"
#include "io/unpickler.h"

namespace quasr {
namespace {

using pickle::Value;
using pickle::ValuePtr;
using Bytes = std::vector<std::byte>;

// Nesting of dicts inside the top-level one that we still flatten.
constexpr int kMaxDictDepth = 32;

struct Storage {
  DType dtype;
  int64_t numel;
  std::shared_ptr<const Bytes> bytes;
};

struct TorchTensor {
  std::shared_ptr<const Storage> storage;
  int64_t offset = 0;
  Shape size;
  std::vector<int64_t> stride;
};

const std::map<std::string, DType, std::less<>>& storage_types() {
  static const std::map<std::string, DType, std::less<>> types = {
      {"torch.FloatStorage", DType::kF32},     {"torch.HalfStorage", DType::kF16},
      {"torch.BFloat16Storage", DType::kBF16}, {"torch.DoubleStorage", DType::kF64},
      {"torch.LongStorage", DType::kI64},      {"torch.IntStorage", DType::kI32},
      {"torch.ShortStorage", DType::kI16},     {"torch.CharStorage", DType::kI8},
      {"torch.ByteStorage", DType::kU8},       {"torch.BoolStorage", DType::kBool},
  };
  return types;
}

const std::set<std::string, std::less<>>& callable_globals() {
  static const std::set<std::string, std::less<>> names = {
      "collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
      "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
      "torch.device"};
  return names;
}

ValuePtr new_value(Value::Kind kind) {
  auto value = std::make_shared<Value>();
  value->kind = kind;
  return value;
}

// --- zip access -----------------------------------------------------------

class ZipArchive {
 public:
  explicit ZipArchive(const std::string& path) : path_(path) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) file_size_ = static_cast<uint64_t>(st.st_size);
    int code = 0;
    zip_ = zip_open(path.c_str(), ZIP_RDONLY, &code);
    if (!zip_) {
      zip_error_t error;
      zip_error_init_with_code(&error, code);
      std::string reason = zip_error_strerror(&error);
      zip_error_fini(&error);
      throw Error(path +
                  ": cannot read as a torch.save zip archive (truncated or corrupt?): " + reason);
    }
  }
  ~ZipArchive() { zip_discard(zip_); }
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  // The folder holding data.pkl: the single entry "<top>/data.pkl".
  std::string top_folder() const {
    std::vector<std::string> found;
    zip_int64_t count = zip_get_num_entries(zip_, 0);
    for (zip_int64_t i = 0; i < count; ++i) {
      const char* raw = zip_get_name(zip_, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
      if (!raw) continue;
      std::string name = raw;
      size_t slash = name.find('/');
      if (slash != std::string::npos && slash > 0 && name.substr(slash) == "/data.pkl") {
        found.push_back(name.substr(0, slash));
      }
    }
    if (found.empty()) {
      throw Error(path_ + ": zip archive has no <folder>/data.pkl entry (not a torch.save file)");
    }
    if (found.size() > 1) {
      throw Error(path_ + ": zip archive has " + std::to_string(found.size()) +
                  " data.pkl entries ('" + found[0] + "', '" + found[1] + "'), expected one");
    }
    return found[0];
  }

  // The whole entry, or nullptr when the archive has no such entry.
  std::shared_ptr<Bytes> read(const std::string& name) const {
    zip_int64_t index = zip_name_locate(zip_, name.c_str(), ZIP_FL_ENC_RAW);
    if (index < 0) return nullptr;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip_, index, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
      throw Error(path_ + ": cannot stat zip entry '" + name + "': " + zip_strerror(zip_));
    }
    // A corrupt directory could claim any size; deflate expands at most ~1032x.
    if ((st.valid & ZIP_STAT_COMP_SIZE) &&
        (st.comp_size > file_size_ || st.size / 1032 > st.comp_size)) {
      throw Error(path_ + ": zip entry '" + name + "' claims " + std::to_string(st.size) +
                  " bytes from " + std::to_string(st.comp_size) + " stored (corrupt archive)");
    }
    auto bytes = std::make_shared<Bytes>(st.size);
    zip_file_t* file = zip_fopen_index(zip_, index, 0);
    if (!file) {
      throw Error(path_ + ": cannot open zip entry '" + name + "': " + zip_strerror(zip_));
    }
    zip_uint64_t done = 0;
    while (done < st.size) {
      zip_int64_t n = zip_fread(file, bytes->data() + done, st.size - done);
      if (n <= 0) {
        std::string reason =
            n < 0 ? zip_error_strerror(zip_file_get_error(file)) : "unexpected end";
        zip_fclose(file);
        throw Error(path_ + ": cannot read zip entry '" + name +
                    "' (truncated or corrupt?): " + reason);
      }
      done += static_cast<zip_uint64_t>(n);
    }
    zip_fclose(file);
    return bytes;
  }

 private:
  std::string path_;
  uint64_t file_size_ = UINT64_MAX;
  zip_t* zip_ = nullptr;
};

// --- pickle hooks -----------------------------------------------------------

// Turns the pickle's calls into data; everything not listed is refused.
class TorchHooks {
 public:
  TorchHooks(const std::string& path, const ZipArchive& zip, std::string top)
      : path_(path), zip_(zip), top_(std::move(top)) {}

  pickle::UnpicklerHooks hooks() {
    pickle::UnpicklerHooks h;
    h.find_global = [this](const std::string& m, const std::string& n) {
      return find_global(m, n);
    };
    h.persistent_load = [this](const ValuePtr& pid) { return persistent_load(pid); };
    h.reduce = [this](const ValuePtr& f, const ValuePtr& args) { return reduce(f, args); };
    h.build = [this](const ValuePtr& object, const ValuePtr&) {
      // BUILD only sets OrderedDict._metadata (module versions), which we ignore.
      if (object->kind != Value::Kind::kDict) fail("BUILD on a " + pickle::describe(*object));
    };
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const { throw Error(path_ + ": " + problem); }

  ValuePtr find_global(const std::string& module, const std::string& name) {
    std::string full = module + "." + name;
    if (!storage_types().count(full) && !callable_globals().count(full)) {
      fail("refusing pickle global '" + full + "' (only tensor state dicts are accepted)");
    }
    ValuePtr value = new_value(Value::Kind::kGlobal);
    value->text = full;
    return value;
  }

  ValuePtr persistent_load(const ValuePtr& pid) {
    const auto& f = pid->items;
    if (pid->kind != Value::Kind::kTuple || f.size() != 5 || f[0]->kind != Value::Kind::kString ||
        f[0]->text != "storage" || f[1]->kind != Value::Kind::kGlobal ||
        f[2]->kind != Value::Kind::kString || f[4]->kind != Value::Kind::kInt) {
      fail("unexpected persistent id (" + pickle::describe(*pid) + ")");
    }
    auto type = storage_types().find(f[1]->text);
    if (type == storage_types().end()) fail("'" + f[1]->text + "' is not a storage type");
    const std::string& key = f[2]->text;
    if (key.empty() ||
        key.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != std::string::npos) {
      fail("bad storage key '" + key.substr(0, 64) + "'");
    }
    auto cached = storages_.find(key);
    if (cached != storages_.end()) {
      auto storage = std::any_cast<std::shared_ptr<const Storage>>(cached->second->object);
      if (storage->dtype != type->second) fail("storage '" + key + "' is used with two dtypes");
      return cached->second;
    }
    int64_t numel = f[4]->integer;
    std::string entry = top_ + "/data/" + key;
    std::shared_ptr<Bytes> bytes = zip_.read(entry);
    if (!bytes) fail("storage entry '" + entry + "' is missing from the archive");
    size_t element = dtype_size(type->second);
    if (numel < 0 || static_cast<uint64_t>(numel) > bytes->size() / element) {
      fail("storage '" + entry + "' holds " + std::to_string(bytes->size()) + " bytes, expected " +
           std::to_string(numel) + " x " + std::to_string(element));
    }
    auto storage = std::make_shared<const Storage>(Storage{type->second, numel, std::move(bytes)});
    ValuePtr value = new_value(Value::Kind::kObject);
    value->object = storage;
    storages_.emplace(key, value);
    return value;
  }

  std::vector<int64_t> int_tuple(const ValuePtr& value, const char* what) const {
    if (value->kind != Value::Kind::kTuple) fail(std::string("tensor ") + what + " is not a tuple");
    std::vector<int64_t> ints;
    for (const ValuePtr& item : value->items) {
      if (item->kind != Value::Kind::kInt || item->integer < 0) {
        fail(std::string("tensor ") + what + " holds " + pickle::describe(*item));
      }
      ints.push_back(item->integer);
    }
    return ints;
  }

  ValuePtr rebuild_tensor(const std::vector<ValuePtr>& args) {
    if (args.size() < 4 || args[0]->kind != Value::Kind::kObject ||
        args[1]->kind != Value::Kind::kInt) {
      fail("malformed _rebuild_tensor_v2 arguments");
    }
    const auto* storage = std::any_cast<std::shared_ptr<const Storage>>(&args[0]->object);
    if (!storage) fail("_rebuild_tensor_v2 given something other than a storage");
    auto tensor = std::make_shared<TorchTensor>();
    tensor->storage = *storage;
    tensor->offset = args[1]->integer;
    tensor->size = int_tuple(args[2], "size");
    tensor->stride = int_tuple(args[3], "stride");
    if (tensor->offset < 0 || tensor->size.size() != tensor->stride.size()) {
      fail("_rebuild_tensor_v2 size/stride/offset do not match");
    }
    ValuePtr value = new_value(Value::Kind::kObject);
    value->object = std::shared_ptr<const TorchTensor>(std::move(tensor));
    return value;
  }

  ValuePtr reduce(const ValuePtr& callable, const ValuePtr& args_tuple) {
    const std::vector<ValuePtr>& args = args_tuple->items;
    const std::string& name = callable->text;
    if (callable->kind != Value::Kind::kGlobal || !callable_globals().count(name)) {
      fail("refusing to call " + pickle::describe(*callable) + " in the pickle");
    }
    if (name == "collections.OrderedDict") {
      if (!args.empty()) fail("OrderedDict built from arguments is not supported");
      return new_value(Value::Kind::kDict);
    }
    if (name == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(args);
    if (name == "torch.device") {
      if (args.empty() || args[0]->kind != Value::Kind::kString) fail("malformed torch.device");
      return args[0];
    }
    // _rebuild_parameter(data, requires_grad, hooks[, state]): the data is the tensor.
    if (args.empty() || !std::any_cast<std::shared_ptr<const TorchTensor>>(&args[0]->object)) {
      fail(name + " given something other than a tensor");
    }
    return args[0];
  }

  const std::string& path_;
  const ZipArchive& zip_;
  std::string top_;
  std::map<std::string, ValuePtr> storages_;
};

// --- tensors out of the pickle ------------------------------------------------

const TorchTensor* as_tensor(const Value& value) {
  if (value.kind != Value::Kind::kObject) return nullptr;
  const auto* tensor = std::any_cast<std::shared_ptr<const TorchTensor>>(&value.object);
  return tensor ? tensor->get() : nullptr;
}

// Copies a strided view into a fresh contiguous buffer, odometer style.
std::shared_ptr<Bytes> gather(const TorchTensor& t, int64_t numel) {
  const size_t element = dtype_size(t.storage->dtype);
  auto out = std::make_shared<Bytes>(static_cast<size_t>(numel) * element);
  std::vector<int64_t> index(t.size.size(), 0);
  const std::byte* base = t.storage->bytes->data();
  for (int64_t i = 0; i < numel; ++i) {
    int64_t source = t.offset;
    for (size_t d = 0; d < index.size(); ++d) source += index[d] * t.stride[d];
    std::memcpy(out->data() + i * element, base + source * element, element);
    for (size_t d = index.size(); d-- > 0;) {
      if (++index[d] < t.size[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

void add_tensor(StateDict& dict, const std::string& name, const TorchTensor& t) {
  const std::string& path = dict.source();
  int64_t numel = 1;
  int64_t last = t.offset;  // highest element index the view touches
  bool contiguous = true;
  int64_t expected_stride = 1;
  for (size_t d = t.size.size(); d-- > 0;) {
    if (__builtin_mul_overflow(numel, t.size[d], &numel)) numel = -1;
    if (t.size[d] == 0) continue;
    int64_t reach;
    if (__builtin_mul_overflow(t.size[d] - 1, t.stride[d], &reach) ||
        __builtin_add_overflow(last, reach, &last)) {
      last = INT64_MAX;
    }
    if (t.size[d] != 1 && t.stride[d] != expected_stride) contiguous = false;
    expected_stride *= t.size[d];
  }
  if (numel < 0 || (numel > 0 && last >= t.storage->numel)) {
    throw Error(path + ": tensor '" + name + "' of shape " + shape_to_string(t.size) +
                " reaches past the end of its " + std::to_string(t.storage->numel) +
                "-element storage");
  }
  RawTensor raw;
  raw.dtype = t.storage->dtype;
  raw.shape = t.size;
  raw.nbytes = static_cast<size_t>(numel) * dtype_size(raw.dtype);
  if (numel == 0) {
    raw.data = t.storage->bytes->data();
  } else if (contiguous) {
    raw.data = t.storage->bytes->data() + t.offset * dtype_size(raw.dtype);
    dict.keep_alive(t.storage->bytes);
  } else {
    std::shared_ptr<Bytes> copy = gather(t, numel);
    raw.data = copy->data();
    dict.keep_alive(std::move(copy));
  }
  dict.add(name, std::move(raw));
}

std::string key_text(const Value& key, const std::string& path) {
  if (key.kind == Value::Kind::kString) return key.text;
  if (key.kind == Value::Kind::kInt) return std::to_string(key.integer);
  throw Error(path + ": state dict key is a " + pickle::describe(key) + ", expected a string");
}

void collect(StateDict& dict, const Value& node, const std::string& prefix, int depth) {
  if (depth > kMaxDictDepth) throw Error(dict.source() + ": dicts nested too deeply in the pickle");
  for (const auto& [key, value] : node.entries) {
    if (const TorchTensor* tensor = as_tensor(*value)) {
      add_tensor(dict, prefix + key_text(*key, dict.source()), *tensor);
    } else if (value->kind == Value::Kind::kDict) {
      collect(dict, *value, prefix + key_text(*key, dict.source()) + ".", depth + 1);
    }
  }
}

StateDict state_dict_from(const std::string& path, const Value& root) {
  if (root.kind != Value::Kind::kDict) {
    throw Error(path + ": checkpoint holds a " + pickle::describe(root) +
                ", expected a dict of tensors");
  }
  const Value* node = &root;
  bool direct = false;
  for (const auto& entry : root.entries) direct = direct || as_tensor(*entry.second);
  if (!direct) {
    for (const char* wrapper : {"state_dict", "model"}) {
      ValuePtr inner = root.find(wrapper);
      if (inner && inner->kind == Value::Kind::kDict) {
        node = inner.get();
        break;
      }
    }
  }
  StateDict dict(path);
  collect(dict, *node, "", 0);
  if (dict.empty()) throw Error(path + ": checkpoint holds no tensors");
  return dict;
}

}  // namespace

struct FileHead {
  unsigned char bytes[16] = {};
  size_t size = 0;
};

static FileHead read_head(const std::string& path) {
  FileHead head;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  ssize_t got = ::read(fd, head.bytes, sizeof head.bytes);
  int saved = errno;
  ::close(fd);
  if (got < 0) throw Error(path + ": cannot read: " + std::strerror(saved));
  head.size = static_cast<size_t>(got);
  return head;
}

// Pre-1.6 torch.save wrote a sequence of pickles starting with a PROTO opcode.
static void refuse_legacy(const std::string& path, const FileHead& head) {
  if (head.size >= 2 && head.bytes[0] == 0x80 && head.bytes[1] <= 5) {
    throw Error(path +
                ": legacy (pre-1.6, non-zip) torch.save format is not supported; "
                "re-save it with torch >= 1.6 (default zip serialization) or as safetensors");
  }
}

StateDict load_torch_checkpoint(const std::string& path) {
  refuse_legacy(path, read_head(path));
  ZipArchive zip(path);
  std::string top = zip.top_folder();
  if (std::shared_ptr<Bytes> order = zip.read(top + "/byteorder")) {
    std::string text(reinterpret_cast<const char*>(order->data()), order->size());
    if (text != "little") throw Error(path + ": byte order '" + text + "' is not supported");
  }
  std::shared_ptr<Bytes> pkl = zip.read(top + "/data.pkl");
  TorchHooks hooks(path, zip, top);
  pickle::Unpickler unpickler(*pkl, path, hooks.hooks());
  ValuePtr root = unpickler.load();
  return state_dict_from(path, *root);  // before the unpickler empties the values
}

StateDict load_state_dict(const std::string& path) {
  FileHead head = read_head(path);
  const unsigned char* b = head.bytes;
  if (head.size >= 4 && b[0] == 'P' && b[1] == 'K' &&
      ((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6))) {
    return load_torch_checkpoint(path);
  }
  refuse_legacy(path, head);
  if (head.size >= 9 && b[8] == '{') return load_safetensors(path);
  if (head.size < 9) {
    throw Error(path + ": file is " + std::to_string(head.size) +
                " bytes, too short for a checkpoint");
  }
  throw Error(path + ": unrecognised checkpoint format (expected a torch.save zip or safetensors)");
}

}  // namespace quasr
