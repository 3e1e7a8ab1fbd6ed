// MappedFile: a whole file mapped read-only (MAP_PRIVATE), unmapped on
// destruction. Loaders hand a shared_ptr of it to StateDict::keep_alive().
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace quasr {

class MappedFile {
 public:
  // Throws quasr::Error "<path>: cannot open: <reason>" and the like.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  const std::byte* data_ = nullptr;  // nullptr for an empty file
  size_t size_ = 0;
};

}  // namespace quasr
