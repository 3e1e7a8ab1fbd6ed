#include "io/unpickler.h"

#include <cstring>

#include "core/error.h"

namespace quasr::pickle {
namespace {

// Opcode bytes (Python's Lib/pickle.py names).
enum : uint8_t {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kPopMark = '1',
  kDup = '2',
  kFloat = 'F',
  kInt = 'I',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kLong = 'L',
  kBinInt2 = 'M',
  kNone = 'N',
  kPersId = 'P',
  kBinPersId = 'Q',
  kReduce = 'R',
  kBinString = 'T',
  kShortBinString = 'U',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kDict = 'd',
  kEmptyDict = '}',
  kAppends = 'e',
  kGet = 'g',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kList = 'l',
  kEmptyList = ']',
  kPut = 'p',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kEmptyTuple = ')',
  kSetItems = 'u',
  kBinFloat = 'G',
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  kProto = 0x80,
  kNewObj = 0x81,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
};

// Containers larger than this come only from hostile files.
constexpr uint64_t kMaxLength = uint64_t{1} << 34;

}  // namespace

ValuePtr Value::find(const std::string& key) const {
  for (const auto& [k, v] : entries) {
    if (k->kind == Kind::kString && k->text == key) return v;
  }
  return nullptr;
}

std::string describe(const Value& value) {
  switch (value.kind) {
    case Value::Kind::kNone:
      return "None";
    case Value::Kind::kBool:
      return value.boolean ? "True" : "False";
    case Value::Kind::kInt:
      return "int " + std::to_string(value.integer);
    case Value::Kind::kFloat:
      return "float";
    case Value::Kind::kString:
      return "str '" + value.text.substr(0, 64) + "'";
    case Value::Kind::kBytes:
      return "bytes";
    case Value::Kind::kTuple:
      return "tuple of " + std::to_string(value.items.size());
    case Value::Kind::kList:
      return "list of " + std::to_string(value.items.size());
    case Value::Kind::kDict:
      return "dict of " + std::to_string(value.entries.size());
    case Value::Kind::kGlobal:
      return "global '" + value.text + "'";
    case Value::Kind::kObject:
      return "object";
  }
  return "?";
}

Unpickler::Unpickler(std::span<const std::byte> data, std::string source, UnpicklerHooks hooks)
    : data_(data), source_(std::move(source)), hooks_(std::move(hooks)) {}

Unpickler::~Unpickler() {
  // Every container is held by arena_, so clearing one only drops references:
  // no value's refcount reaches zero inside another's destructor.
  for (const ValuePtr& value : arena_) {
    value->items.clear();
    value->entries.clear();
  }
  stack_.clear();
  memo_.clear();
}

void Unpickler::fail(const std::string& problem) const {
  throw Error(source_ + ": pickle: " + problem + " at byte " + std::to_string(op_pos_));
}

ValuePtr Unpickler::make(Value::Kind kind) {
  auto value = std::make_shared<Value>();
  value->kind = kind;
  if (kind == Value::Kind::kTuple || kind == Value::Kind::kList || kind == Value::Kind::kDict) {
    arena_.push_back(value);
  }
  return value;
}

ValuePtr Unpickler::adopt(ValuePtr value) {
  if (!value) fail("a hook returned nothing");
  arena_.push_back(value);
  return value;
}

const std::byte* Unpickler::take(size_t count) {
  if (count > data_.size() - pos_)
    fail("truncated data (wanted " + std::to_string(count) + " bytes)");
  const std::byte* p = data_.data() + pos_;
  pos_ += count;
  return p;
}

uint64_t Unpickler::take_uint(size_t bytes) {
  const std::byte* p = take(bytes);
  uint64_t value = 0;
  for (size_t i = bytes; i-- > 0;) value = (value << 8) | static_cast<uint8_t>(p[i]);
  return value;
}

std::string Unpickler::take_line() {
  const char* begin = reinterpret_cast<const char*>(data_.data()) + pos_;
  const void* newline = std::memchr(begin, '\n', data_.size() - pos_);
  if (!newline) fail("unterminated text line");
  size_t length = static_cast<const char*>(newline) - begin;
  pos_ += length + 1;
  return std::string(begin, length);
}

ValuePtr Unpickler::pop() {
  if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
    fail("stack underflow");
  }
  ValuePtr value = std::move(stack_.back());
  stack_.pop_back();
  return value;
}

ValuePtr& Unpickler::top() {
  if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
    fail("stack underflow");
  }
  return stack_.back();
}

std::vector<ValuePtr> Unpickler::pop_mark() {
  if (marks_.empty()) fail("no MARK on the stack");
  size_t mark = marks_.back();
  marks_.pop_back();
  std::vector<ValuePtr> items(std::make_move_iterator(stack_.begin() + mark),
                              std::make_move_iterator(stack_.end()));
  stack_.resize(mark);
  return items;
}

void Unpickler::push_memo(uint64_t index) {
  memo_[index] = top();
}

ValuePtr Unpickler::get_memo(uint64_t index) const {
  auto it = memo_.find(index);
  if (it == memo_.end()) fail("memo key " + std::to_string(index) + " is not defined");
  return it->second;
}

ValuePtr Unpickler::make_string(Value::Kind kind, size_t length) {
  if (length > kMaxLength) fail("string length " + std::to_string(length) + " is too large");
  const std::byte* p = take(length);
  ValuePtr value = make(kind);
  value->text.assign(reinterpret_cast<const char*>(p), length);
  return value;
}

void Unpickler::set_item(Value& dict, ValuePtr key, ValuePtr value) {
  if (dict.kind != Value::Kind::kDict) fail("SETITEM on a " + describe(dict));
  // Later assignments to an equal str/int key replace earlier ones, as in Python.
  for (auto& [k, v] : dict.entries) {
    bool same =
        k->kind == key->kind && ((k->kind == Value::Kind::kString && k->text == key->text) ||
                                 (k->kind == Value::Kind::kInt && k->integer == key->integer));
    if (same) {
      v = std::move(value);
      return;
    }
  }
  dict.entries.emplace_back(std::move(key), std::move(value));
}

// None, booleans, numbers.
bool Unpickler::step_data(uint8_t op) {
  ValuePtr v;
  switch (op) {
    case kNone:
      v = make(Value::Kind::kNone);
      break;
    case kNewTrue:
    case kNewFalse:
      v = make(Value::Kind::kBool);
      v->boolean = op == kNewTrue;
      break;
    case kBinInt1:
      v = make(Value::Kind::kInt);
      v->integer = static_cast<int64_t>(take_uint(1));
      break;
    case kBinInt2:
      v = make(Value::Kind::kInt);
      v->integer = static_cast<int64_t>(take_uint(2));
      break;
    case kBinInt:
      v = make(Value::Kind::kInt);
      v->integer = static_cast<int32_t>(static_cast<uint32_t>(take_uint(4)));
      break;
    case kLong1:
    case kLong4: {
      uint64_t n = take_uint(op == kLong1 ? 1 : 4);
      if (n > 8) fail("integer of " + std::to_string(n) + " bytes does not fit in int64");
      uint64_t bits = n ? take_uint(n) : 0;
      if (n > 0 && n < 8 && (bits >> (8 * n - 1)) & 1) bits |= ~uint64_t{0} << (8 * n);  // sign
      v = make(Value::Kind::kInt);
      v->integer = static_cast<int64_t>(bits);
      break;
    }
    case kBinFloat: {
      uint64_t bits = 0;
      const std::byte* p = take(8);
      for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<uint8_t>(p[i]);  // big-endian
      v = make(Value::Kind::kFloat);
      std::memcpy(&v->number, &bits, sizeof bits);
      break;
    }
    default:
      return step_text(op);
  }
  stack_.push_back(std::move(v));
  return true;
}

// Strings, bytes and memo traffic.
bool Unpickler::step_text(uint8_t op) {
  ValuePtr v;
  switch (op) {
    case kShortBinUnicode:
      v = make_string(Value::Kind::kString, take_uint(1));
      break;
    case kBinUnicode:
      v = make_string(Value::Kind::kString, take_uint(4));
      break;
    case kBinUnicode8:
      v = make_string(Value::Kind::kString, take_uint(8));
      break;
    case kShortBinString:
      v = make_string(Value::Kind::kString, take_uint(1));
      break;
    case kBinString: {
      int32_t n = static_cast<int32_t>(static_cast<uint32_t>(take_uint(4)));
      if (n < 0) fail("negative string length");
      v = make_string(Value::Kind::kString, static_cast<size_t>(n));
      break;
    }
    case kShortBinBytes:
      v = make_string(Value::Kind::kBytes, take_uint(1));
      break;
    case kBinBytes:
      v = make_string(Value::Kind::kBytes, take_uint(4));
      break;
    case kBinBytes8:
      v = make_string(Value::Kind::kBytes, take_uint(8));
      break;
    case kBinPut:
      push_memo(take_uint(1));
      return true;
    case kLongBinPut:
      push_memo(take_uint(4));
      return true;
    case kMemoize:
      push_memo(memo_.size());
      return true;
    case kBinGet:
      v = get_memo(take_uint(1));
      break;
    case kLongBinGet:
      v = get_memo(take_uint(4));
      break;
    case kPut:
    case kGet: {
      std::string line = take_line();
      uint64_t index = 0;
      try {
        index = std::stoull(line);
      } catch (const std::exception&) {
        fail("bad memo index '" + line + "'");
      }
      if (op == kPut) {
        push_memo(index);
        return true;
      }
      v = get_memo(index);
      break;
    }
    default:
      return step_structure(op);
  }
  stack_.push_back(std::move(v));
  return true;
}

// Tuples, lists, dicts and stack bookkeeping.
bool Unpickler::step_structure(uint8_t op) {
  switch (op) {
    case kMark:
      marks_.push_back(stack_.size());
      return true;
    case kPop:
      pop();
      return true;
    case kPopMark:
      pop_mark();
      return true;
    case kDup:
      stack_.push_back(top());
      return true;
    case kEmptyTuple:
      stack_.push_back(make(Value::Kind::kTuple));
      return true;
    case kEmptyList:
      stack_.push_back(make(Value::Kind::kList));
      return true;
    case kEmptyDict:
      stack_.push_back(make(Value::Kind::kDict));
      return true;
    case kTuple1:
    case kTuple2:
    case kTuple3: {
      size_t n = op - kTuple1 + 1;
      ValuePtr t = make(Value::Kind::kTuple);
      t->items.resize(n);
      for (size_t i = n; i-- > 0;) t->items[i] = pop();
      stack_.push_back(std::move(t));
      return true;
    }
    case kTuple:
    case kList: {
      ValuePtr t = make(op == kTuple ? Value::Kind::kTuple : Value::Kind::kList);
      t->items = pop_mark();
      stack_.push_back(std::move(t));
      return true;
    }
    case kDict:
    case kSetItems: {
      std::vector<ValuePtr> items = pop_mark();
      if (items.size() % 2) fail("odd number of items for a dict");
      ValuePtr dict = op == kDict ? make(Value::Kind::kDict) : top();
      for (size_t i = 0; i < items.size(); i += 2) set_item(*dict, items[i], items[i + 1]);
      if (op == kDict) stack_.push_back(std::move(dict));
      return true;
    }
    case kSetItem: {
      ValuePtr value = pop();
      ValuePtr key = pop();
      set_item(*top(), std::move(key), std::move(value));
      return true;
    }
    case kAppend:
    case kAppends: {
      std::vector<ValuePtr> items;
      if (op == kAppend) {
        items.push_back(pop());
      } else {
        items = pop_mark();
      }
      Value& list = *top();
      if (list.kind != Value::Kind::kList) fail("APPEND to a " + describe(list));
      for (ValuePtr& item : items) list.items.push_back(std::move(item));
      return true;
    }
    default:
      return step_call(op);
  }
}

// Everything that reaches outside plain data goes through the hooks.
bool Unpickler::step_call(uint8_t op) {
  switch (op) {
    case kGlobal:
    case kStackGlobal: {
      std::string module, name;
      if (op == kGlobal) {
        module = take_line();
        name = take_line();
      } else {
        ValuePtr n = pop();
        ValuePtr m = pop();
        if (m->kind != Value::Kind::kString || n->kind != Value::Kind::kString) {
          fail("STACK_GLOBAL needs two strings");
        }
        module = m->text;
        name = n->text;
      }
      if (!hooks_.find_global) fail("refusing pickle global '" + module + "." + name + "'");
      stack_.push_back(adopt(hooks_.find_global(module, name)));
      return true;
    }
    case kBinPersId:
    case kPersId: {
      ValuePtr pid = op == kBinPersId ? pop() : make_string(Value::Kind::kString, 0);
      if (op == kPersId) pid->text = take_line();
      if (!hooks_.persistent_load) fail("persistent ids are not accepted");
      stack_.push_back(adopt(hooks_.persistent_load(pid)));
      return true;
    }
    case kReduce:
    case kNewObj: {
      ValuePtr args = pop();
      ValuePtr callable = pop();
      if (args->kind != Value::Kind::kTuple) fail("REDUCE arguments are a " + describe(*args));
      if (!hooks_.reduce) fail("refusing to call " + describe(*callable));
      stack_.push_back(adopt(hooks_.reduce(callable, args)));
      return true;
    }
    case kBuild: {
      ValuePtr state = pop();
      if (!hooks_.build) fail("refusing BUILD on a " + describe(*top()));
      hooks_.build(top(), state);
      return true;
    }
    default: {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", op);
      fail(std::string("unsupported pickle opcode ") + hex);
    }
  }
}

bool Unpickler::step(uint8_t op) {
  switch (op) {
    case kStop:
      return false;
    case kProto: {
      uint64_t version = take_uint(1);
      if (version > 5) fail("unsupported pickle protocol " + std::to_string(version));
      return true;
    }
    case kFrame:
      take_uint(8);
      return true;  // frames only group opcodes
    case kInt: {
      std::string line = take_line();
      ValuePtr v = make(Value::Kind::kInt);
      if (line == "00" || line == "01") {
        v->kind = Value::Kind::kBool;
        v->boolean = line == "01";
      } else {
        try {
          v->integer = std::stoll(line);
        } catch (const std::exception&) {
          fail("bad INT '" + line + "'");
        }
      }
      stack_.push_back(std::move(v));
      return true;
    }
    default:
      return step_data(op);
  }
}

ValuePtr Unpickler::load() {
  pos_ = 0;
  for (;;) {
    op_pos_ = pos_;
    uint8_t op = static_cast<uint8_t>(*take(1));
    if (!step(op)) break;
  }
  if (!marks_.empty()) fail("unbalanced MARK at STOP");
  if (stack_.size() != 1)
    fail("STOP with " + std::to_string(stack_.size()) + " values on the stack");
  return stack_.back();
}

}  // namespace quasr::pickle
