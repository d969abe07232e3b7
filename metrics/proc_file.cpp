#include "metrics/proc_file.h"

#include <fcntl.h>
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

}  // namespace

Result<std::string_view> readProcFile(const std::string& path, std::string& buffer,
                                      size_t limit) {
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) {
    int err = errno;
    Error error = Error::fromErrno(fmt::format("open {}", path), err);
    if (err == ENOENT || err == ENOTDIR) error.message += kMissingTag;
    return std::unexpected(std::move(error));
  }
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
    ssize_t n = ::read(file.fd, buffer.data() + used, buffer.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(Error::fromErrno(fmt::format("read {}", path)));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  return std::string_view(buffer.data(), used);
}

bool isMissing(const Error& error) { return error.message.ends_with(kMissingTag); }

}  // namespace rampart::metrics
