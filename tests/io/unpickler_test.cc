#include "io/unpickler.h"

#include "test_util.h"

namespace quasr::pickle {
namespace {

using namespace std::string_literals;

ValuePtr run(const std::string& bytes, std::function<void(const Value&)> check) {
  Unpickler unpickler(std::as_bytes(std::span(bytes.data(), bytes.size())), "t.pkl", {});
  ValuePtr value = unpickler.load();
  check(*value);
  return nullptr;
}

std::string error_of(const std::string& bytes) {
  return test::expect_error([&] { run(bytes, [](const Value&) {}); }, {"t.pkl: "});
}

TEST(Unpickler, Integers) {
  // BININT1 7, BININT2 0x1234, BININT -2, LONG1 -1, LONG1 2^40, empty LONG1 = 0
  std::string bytes = "\x80\x02(K\x07M\x34\x12J\xfe\xff\xff\xff\x8a\x01\xff"s +
                      "\x8a\x06\x00\x00\x00\x00\x00\x01\x8a\x00t."s;
  run(bytes, [](const Value& v) {
    ASSERT_EQ(v.kind, Value::Kind::kTuple);
    std::vector<int64_t> ints;
    for (const auto& item : v.items) ints.push_back(item->integer);
    EXPECT_EQ(ints, (std::vector<int64_t>{7, 0x1234, -2, -1, int64_t{1} << 40, 0}));
  });
  test::expect_error(
      [] { run(std::string("\x8a\x09", 2) + std::string(9, '\1') + ".", [](const Value&) {}); },
      {"does not fit in int64"});
}

TEST(Unpickler, FloatsStringsAndConstants) {
  // BINFLOAT 1.5 is big-endian 3f f8 00 ..; then str forms, bytes, None, True, False.
  std::string bytes = "(G\x3f\xf8\0\0\0\0\0\0"s + "X\x02\0\0\0hi"s + "\x8c\x03" + "abc" + "U\x01z" +
                      "C\x02\x01\x02" + "N\x88\x89t.";
  run(bytes, [](const Value& v) {
    ASSERT_EQ(v.items.size(), 8u);
    EXPECT_EQ(v.items[0]->number, 1.5);
    EXPECT_EQ(v.items[1]->text, "hi");
    EXPECT_EQ(v.items[2]->text, "abc");
    EXPECT_EQ(v.items[3]->text, "z");
    EXPECT_EQ(v.items[4]->kind, Value::Kind::kBytes);
    EXPECT_EQ(v.items[5]->kind, Value::Kind::kNone);
    EXPECT_TRUE(v.items[6]->boolean);
    EXPECT_FALSE(v.items[7]->boolean);
  });
}

TEST(Unpickler, ContainersAndMemo) {
  // d = {}; d['a'] = [1, 2]; d['b'] = <memo 1> (the same list); d['a'] replaced by 3
  std::string bytes =
      "}q\x00(X\x01\0\0\0a]q\x01(K\x01K\x02"s
      "eX\x01\0\0\0bh\x01uX\x01\0\0\0aK\x03s."s;
  run(bytes, [](const Value& v) {
    ASSERT_EQ(v.kind, Value::Kind::kDict);
    ASSERT_EQ(v.entries.size(), 2u);
    EXPECT_EQ(v.find("a")->integer, 3);
    ValuePtr list = v.find("b");
    ASSERT_EQ(list->kind, Value::Kind::kList);
    ASSERT_EQ(list->items.size(), 2u);
    EXPECT_EQ(list->items[1]->integer, 2);
    EXPECT_EQ(v.find("c"), nullptr);
  });
}

TEST(Unpickler, LongMemoAndProtocol4Framing) {
  // 5; LONG_BINPUT 10000; POP; LONG_BINGET 10000
  run("K\x05r\x10\x27\x00\x00"s + "0" + "j\x10\x27\x00\x00."s,
      [](const Value& v) { EXPECT_EQ(v.integer, 5); });
  // PROTO 4, FRAME, {} MEMOIZE, 'a' MEMOIZE, 1, SETITEM, then BINGET 1 via a tuple
  std::string p4 = "\x80\x04\x95\x0c\0\0\0\0\0\0\0}\x94\x8c\x01"s + "a\x94K\x01s.";
  run(p4, [](const Value& v) { EXPECT_EQ(v.find("a")->integer, 1); });
}

TEST(Unpickler, DeepAndCyclicStructuresAreFreedSafely) {
  // 200000 nested lists: recursive destruction would overflow the stack.
  const int depth = 200000;
  std::string deep = std::string(depth, ']') + std::string(depth - 1, 'a') + ".";
  run(deep, [](const Value& v) { EXPECT_EQ(v.items.size(), 1u); });
  // A list that contains itself.
  run("]q\x00h\x00"s
      "a.",
      [](const Value& v) { EXPECT_EQ(v.items[0].get(), &v); });
}

TEST(Unpickler, RefusesGlobalsWithoutHooks) {
  EXPECT_EQ(error_of("cos\nsystem\n."),
            "t.pkl: pickle: refusing pickle global 'os.system' at byte 0");
  error_of(
      "\x8c\x08"
      "builtins\x8c\x04"
      "eval\x93.");  // STACK_GLOBAL
}

TEST(Unpickler, MalformedInput) {
  error_of("X\xff\0\0\0ab"s);  // string longer than the data
  error_of("a.");              // APPEND on an empty stack
  error_of("(K\x01.");         // MARK left open
  error_of("K\x01K\x02.");     // two values at STOP
  error_of("K\x01");           // no STOP
  error_of("h\x05.");          // memo key never stored
  error_of("K\x01K\x02s.");    // SETITEM on an int
  error_of("\x80\x09.");       // protocol 9
  std::string inst = error_of("ios\nsystem\n.");
  EXPECT_NE(inst.find("unsupported pickle opcode 0x69"), std::string::npos);
}

}  // namespace
}  // namespace quasr::pickle
