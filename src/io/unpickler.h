// A data-only unpickler for the pickles inside torch.save checkpoints.
//
// It builds plain values (None, bool, int, float, str, bytes, tuple, list,
// dict) and never imports or calls anything itself: GLOBAL/STACK_GLOBAL,
// persistent ids, REDUCE/NEWOBJ and BUILD are handed to hooks that the caller
// supplies, and a hook that is missing or throws rejects the file. Supported
// opcodes: the binary ones of protocols 0-5 that plain data needs (see
// unpickler.cc); INST/OBJ/EXT*/NEWOBJ_EX/sets/out-of-band buffers are refused.
#pragma once

#include <any>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace quasr::pickle {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kBytes,
    kTuple,
    kList,
    kDict,
    kGlobal,
    kObject
  };
  Kind kind = Kind::kNone;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0.0;
  std::string text;                                    // kString, kBytes, kGlobal ("module.name")
  std::vector<ValuePtr> items;                         // kTuple, kList
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // kDict, insertion order
  std::any object;                                     // kObject: whatever a hook made

  // Lookup of a kDict entry by string key; nullptr when absent.
  ValuePtr find(const std::string& key) const;
};

// Short description for error messages: "int", "str 'abc'", "global 'a.b'".
std::string describe(const Value& value);

struct UnpicklerHooks {
  // GLOBAL / STACK_GLOBAL: return a value standing for module.name or throw.
  std::function<ValuePtr(const std::string& module, const std::string& name)> find_global;
  // BINPERSID / PERSID.
  std::function<ValuePtr(const ValuePtr& pid)> persistent_load;
  // REDUCE (callable, args tuple) and NEWOBJ (class, args tuple).
  std::function<ValuePtr(const ValuePtr& callable, const ValuePtr& args)> reduce;
  // BUILD (object, state): may update the object; default is to refuse.
  std::function<void(const ValuePtr& object, const ValuePtr& state)> build;
};

class Unpickler {
 public:
  // `data` must outlive load(). `source` names the file in error messages.
  Unpickler(std::span<const std::byte> data, std::string source, UnpicklerHooks hooks);
  // Breaks every container link before freeing, so deep or cyclic structures
  // from a hostile file cannot overflow the stack or leak. Values returned by
  // load() are emptied then: use them before the Unpickler goes away.
  ~Unpickler();
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  // Runs to STOP and returns the top object. Throws quasr::Error
  // "<source>: pickle: <problem> at byte <offset>".
  ValuePtr load();

 private:
  ValuePtr make(Value::Kind kind);
  ValuePtr adopt(ValuePtr value);  // registers a hook's result in arena_
  [[noreturn]] void fail(const std::string& problem) const;
  const std::byte* take(size_t count);
  uint64_t take_uint(size_t bytes);  // little-endian
  std::string take_line();
  ValuePtr pop();
  ValuePtr& top();
  std::vector<ValuePtr> pop_mark();
  void push_memo(uint64_t index);
  ValuePtr get_memo(uint64_t index) const;
  bool step(uint8_t opcode);  // false at STOP
  bool step_data(uint8_t opcode);
  bool step_text(uint8_t opcode);
  bool step_structure(uint8_t opcode);
  bool step_call(uint8_t opcode);
  void set_item(Value& dict, ValuePtr key, ValuePtr value);
  ValuePtr make_string(Value::Kind kind, size_t length);

  std::span<const std::byte> data_;
  std::string source_;
  UnpicklerHooks hooks_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, ValuePtr> memo_;
  std::vector<ValuePtr> arena_;  // every container made, see ~Unpickler()
};

}  // namespace quasr::pickle
