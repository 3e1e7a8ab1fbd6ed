#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include "core/error.h"

namespace quasr {
namespace {

std::string directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string errno_text() {
  return std::strerror(errno);
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  if (path_.empty() || path_.back() == '/') {
    throw Error("'" + path_ + "': output path names no file");
  }
  // O_EXCL with a fresh random name (rather than mkstemp) so the final file
  // gets the usual 0666 & ~umask permissions instead of mkstemp's 0600.
  static std::atomic<unsigned> counter{0};
  std::random_device entropy;
  for (int attempt = 0; attempt < 100; ++attempt) {
    char suffix[64];
    std::snprintf(suffix, sizeof suffix, ".tmp.%d.%u.%08x", static_cast<int>(getpid()),
                  counter.fetch_add(1), static_cast<unsigned>(entropy()));
    temp_path_ = path_ + suffix;
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) return;
    if (errno != EEXIST) break;
  }
  std::string reason = errno_text();
  temp_path_.clear();
  throw Error(path_ + ": cannot create a temporary file in '" + directory_of(path_) +
              "': " + reason);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicFileWriter::fail(const std::string& what) {
  std::string reason = errno_text();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  temp_path_.clear();
  throw Error(path_ + ": " + what + ": " + reason);
}

void AtomicFileWriter::write(const void* data, size_t size) {
  if (committed_ || fd_ < 0) throw Error(path_ + ": write after commit or failure");
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t written = ::write(fd_, bytes, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      fail("write failed");
    }
    bytes += written;
    size -= static_cast<size_t>(written);
  }
}

void AtomicFileWriter::commit() {
  if (committed_ || fd_ < 0) throw Error(path_ + ": commit after commit or failure");
  if (::fsync(fd_) != 0) fail("fsync failed");
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail("close failed");
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) fail("cannot rename the temporary file");
  committed_ = true;
  // The rename is only durable once the directory entry is on disk. Failing to
  // sync the directory does not make the file wrong, so it is not an error.
  int dir = ::open(directory_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace quasr
