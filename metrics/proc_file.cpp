#include "metrics/proc_file.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>

namespace rampart::metrics {
namespace {

constexpr std::string_view kMissingTag = " (missing)";

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// The error of a failed open (errno), tagged when the file does not exist.
Error openFailure(const std::string& path) {
  int err = errno;
  Error error = Error::fromErrno(fmt::format("open {}", path), err);
  if (err == ENOENT || err == ENOTDIR) error.message += kMissingTag;
  return error;
}

// Reads all of `fd` into `buffer` (growing it up to `limit`): from offset 0
// with pread when `positioned`, else from the file position. With kWhole a
// short read is the end.
Result<size_t> readAll(int fd, bool positioned, const std::string& path, std::string& buffer,
                       size_t limit, Rendering rendering = Rendering::kRecords) {
  // procfs reports size 0, so grow by doubling; the buffer keeps its
  // capacity, so steady-state scrapes allocate nothing here.
  if (buffer.size() < 4096) buffer.resize(buffer.capacity() < 4096 ? 4096 : buffer.capacity());
  buffer.resize(buffer.capacity());
  size_t used = 0;
  for (;;) {
    if (used == buffer.size()) {
      if (buffer.size() >= limit) return fail("read {}: larger than {} bytes", path, limit);
      buffer.resize(std::min(buffer.size() * 2, limit));
    }
    char* at = buffer.data() + used;
    size_t room = buffer.size() - used;
    ssize_t n = positioned ? ::pread(fd, at, room, static_cast<off_t>(used)) : ::read(fd, at, room);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(Error::fromErrno(fmt::format("read {}", path)));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
    if (rendering == Rendering::kWhole && static_cast<size_t>(n) < room) break;
  }
  return used;
}

}  // namespace

ProcFile::~ProcFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::string_view> ProcFile::read() {
  if (fd_ >= 0) {
    auto used = readAll(fd_, true, path_, buffer_, limit_, rendering_);
    if (used) return std::string_view(buffer_.data(), *used);
    ::close(fd_);  // read afresh below; a persistent error shows there
    fd_ = -1;
  }
  Fd file{::open(path_.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) return std::unexpected(openFailure(path_));
  auto used = readAll(file.fd, false, path_, buffer_, limit_, rendering_);
  if (!used) return std::unexpected(used.error());
  struct statfs fs{};
  if (::fstatfs(file.fd, &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC &&
      ::pread(file.fd, nullptr, 0, 0) == 0) {
    fd_ = file.fd;  // re-readable in place: keep it
    file.fd = -1;
  }
  return std::string_view(buffer_.data(), *used);
}

Result<std::string_view> readProcFile(const std::string& path, std::string& buffer,
                                      size_t limit) {
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) return std::unexpected(openFailure(path));
  auto used = readAll(file.fd, false, path, buffer, limit);
  if (!used) return std::unexpected(used.error());
  return std::string_view(buffer.data(), *used);
}

bool isMissing(const Error& error) { return error.message.ends_with(kMissingTag); }

}  // namespace rampart::metrics
