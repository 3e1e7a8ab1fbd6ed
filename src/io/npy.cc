#include "io/npy.h"

#include <bit>
#include <cctype>
#include <cstring>
#include <limits>
#include <map>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/mapped_file.h"

namespace quasr {
namespace {

static_assert(std::endian::native == std::endian::little, "npy I/O assumes a little-endian host");

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

// The header is a Python dict literal; this reads the subset numpy writes.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : text_(text), path_(path) {}

  struct Header {
    std::string descr;
    bool fortran_order = false;
    Shape shape;
  };

  Header parse() {
    Header header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (!accept('}')) {
      std::string key = string();
      expect(':');
      if (key == "descr") {
        header.descr = string();
        seen_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = boolean();
        seen_order = true;
      } else if (key == "shape") {
        header.shape = tuple();
        seen_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      if (!accept(',')) {
        expect('}');
        break;
      }
    }
    if (!seen_descr || !seen_order || !seen_shape) fail("descr, fortran_order or shape missing");
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw Error(path_ + ": bad .npy header (" + problem + ")");
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool accept(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "'");
  }
  std::string string() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
      fail("expected a string");
    char quote = text_[pos_++];
    size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string value(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return value;
  }
  bool boolean() {
    skip_space();
    for (auto [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      size_t n = std::strlen(word);
      if (text_.substr(pos_, n) == word) {
        pos_ += n;
        return value;
      }
    }
    fail("expected True or False");
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (!accept(')')) {
      skip_space();
      int64_t value = 0;
      size_t digits = 0;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        if (value > (std::numeric_limits<int64_t>::max() - 9) / 10) fail("dimension too large");
        value = value * 10 + (text_[pos_++] - '0');
        ++digits;
      }
      if (digits == 0) fail("expected a dimension");
      shape.push_back(value);
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }

  std::string_view text_;
  const std::string& path_;
  size_t pos_ = 0;
};

std::string shape_literal(const Shape& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  if (shape.size() == 1) text += ",";
  return text + ")";
}

}  // namespace

void write_npy_f32(const std::string& path, std::span<const float> data, const Shape& shape) {
  for (int64_t extent : shape) {
    if (extent < 0) throw Error(path + ": cannot write shape " + shape_to_string(shape));
  }
  if (static_cast<int64_t>(data.size()) != shape_numel(shape)) {
    throw Error(path + ": " + std::to_string(data.size()) + " values do not fill shape " +
                shape_to_string(shape));
  }
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_literal(shape) + ", }";
  // Magic (6) + version (2) + length (2) + header + '\n' padded to 64 bytes.
  size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  if (header.size() > 0xffff) throw Error(path + ": .npy header too long for format 1.0");
  unsigned char prefix[10];
  std::memcpy(prefix, kMagic, kMagicSize);
  prefix[6] = 1;
  prefix[7] = 0;
  prefix[8] = static_cast<unsigned char>(header.size() & 0xff);
  prefix[9] = static_cast<unsigned char>(header.size() >> 8);

  AtomicFileWriter out(path);
  out.write(prefix, sizeof prefix);
  out.write(header.data(), header.size());
  out.write(data.data(), data.size_bytes());
  out.commit();
}

void write_npy_f32(const std::string& path, const Tensor& tensor) {
  write_npy_f32(path, std::span<const float>(tensor.data(), static_cast<size_t>(tensor.numel())),
                tensor.shape());
}

NpyArray read_npy_f32(const std::string& path) {
  std::shared_ptr<const MappedFile> file = MappedFile::open(path);
  const auto* bytes = reinterpret_cast<const unsigned char*>(file->data());
  const size_t size = file->size();
  if (size < 10 || std::memcmp(bytes, kMagic, kMagicSize) != 0) {
    throw Error(path + ": not a .npy file (missing \\x93NUMPY magic)");
  }
  const unsigned major = bytes[6];
  size_t header_size, header_start;
  if (major == 1) {
    header_size = bytes[8] | size_t{bytes[9]} << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw Error(path + ": truncated .npy header");
    header_size =
        bytes[8] | size_t{bytes[9]} << 8 | size_t{bytes[10]} << 16 | size_t{bytes[11]} << 24;
    header_start = 12;
  } else {
    throw Error(path + ": unsupported .npy format version " + std::to_string(major));
  }
  if (header_size > size - header_start) throw Error(path + ": truncated .npy header");
  std::string_view text(reinterpret_cast<const char*>(bytes + header_start), header_size);
  HeaderParser::Header header = HeaderParser(text, path).parse();
  if (header.descr != "<f4" && header.descr != "<f8") {
    throw Error(path + ": .npy dtype '" + header.descr +
                "' is not supported, expected '<f4' or '<f8'");
  }
  if (header.fortran_order) throw Error(path + ": Fortran-order .npy arrays are not supported");
  const size_t item = header.descr == "<f4" ? 4 : 8;
  const size_t data_start = header_start + header_size;
  uint64_t numel = 1;
  bool overflow = false;
  for (int64_t extent : header.shape) {
    overflow = overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(extent), &numel);
  }
  if (overflow) numel = std::numeric_limits<uint64_t>::max();
  if (numel > (size - data_start) / item || numel * item != size - data_start) {
    throw Error(path + ": .npy data holds " + std::to_string(size - data_start) +
                " bytes, expected " + shape_to_string(header.shape) + " x " + std::to_string(item));
  }
  NpyArray array;
  array.shape = header.shape;
  array.data.resize(numel);
  const unsigned char* data = bytes + data_start;
  if (item == 4) {
    if (numel > 0) std::memcpy(array.data.data(), data, numel * 4);
  } else {
    for (size_t i = 0; i < numel; ++i) {
      double value;
      std::memcpy(&value, data + 8 * i, 8);
      array.data[i] = static_cast<float>(value);
    }
  }
  return array;
}

}  // namespace quasr
