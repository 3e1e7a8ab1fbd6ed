// AtomicFileWriter: write a file so that readers only ever see the old file or
// the complete new one, never a partial write.
//
// Bytes go to a temporary file in the destination's directory (same file
// system, so rename() is atomic). commit() fsyncs the data, renames it over the
// destination and fsyncs the directory. If the writer is destroyed without a
// successful commit() (an exception, an early return), the temporary file is
// removed and the destination is left untouched.
#pragma once

#include <cstddef>
#include <string>

namespace quasr {

class AtomicFileWriter {
 public:
  // Creates the temporary file; throws quasr::Error naming `path` if it cannot.
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Appends bytes; throws quasr::Error naming the destination on failure.
  void write(const void* data, size_t size);
  // Makes the file visible under path(). No writes are allowed afterwards.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  bool committed() const { return committed_; }

 private:
  void fail(const std::string& what);  // closes, removes the temp and throws

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace quasr
