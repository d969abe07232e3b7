#include "tls/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace rampart::tls {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string dirOf(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

}  // namespace

Result<FileContents> readSmallFile(const std::string& path, std::size_t limit) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
  if (f.fd < 0) return std::unexpected(Error::fromErrno(fmt::format("open {}", path)));
  FileContents out;
  if (::fstat(f.fd, &out.st) != 0) return std::unexpected(Error::fromErrno(fmt::format("stat {}", path)));
  if (!S_ISREG(out.st.st_mode)) return fail("{}: not a regular file", path);
  if (static_cast<std::size_t>(out.st.st_size) > limit)
    return fail("{}: larger than {} bytes", path, limit);
  out.bytes.resize(static_cast<std::size_t>(out.st.st_size));
  std::size_t got = 0;
  while (true) {
    if (got == out.bytes.size()) {
      // The file may have grown since fstat; read one more byte to know.
      if (out.bytes.size() >= limit) {
        char extra = 0;
        ssize_t n = ::read(f.fd, &extra, 1);
        if (n > 0) return fail("{}: larger than {} bytes", path, limit);
        break;
      }
      out.bytes.resize(std::min(limit, out.bytes.size() + 4096));
    }
    ssize_t n = ::read(f.fd, out.bytes.data() + got, out.bytes.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(Error::fromErrno(fmt::format("read {}", path)));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.bytes.resize(got);
  return out;
}

Result<void> writeFileAtomic(const std::string& path, std::string_view bytes, mode_t mode) {
  std::string tmp = path + ".tmp-XXXXXX";
  Fd f{::mkostemp(tmp.data(), O_CLOEXEC)};
  if (f.fd < 0) return std::unexpected(Error::fromErrno(fmt::format("create {}", tmp)));
  auto undo = [&](Error e) -> Result<void> {
    ::unlink(tmp.c_str());
    return std::unexpected(std::move(e));
  };
  if (::fchmod(f.fd, mode) != 0) return undo(Error::fromErrno(fmt::format("chmod {}", tmp)));
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(f.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return undo(Error::fromErrno(fmt::format("write {}", tmp)));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(f.fd) != 0) return undo(Error::fromErrno(fmt::format("fsync {}", tmp)));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return undo(Error::fromErrno(fmt::format("rename {} to {}", tmp, path)));
  Fd dir{::open(dirOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir.fd >= 0) ::fsync(dir.fd);  // best effort: the rename is already visible
  return {};
}

Result<void> makeDirs(const std::string& path, mode_t mode) {
  std::filesystem::path p(path);
  std::filesystem::path cur;
  for (const auto& part : p) {
    cur /= part;
    if (cur.string().empty() || cur == "/") continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return std::unexpected(Error::fromErrno(fmt::format("mkdir {}", cur.string())));
  }
  return {};
}

}  // namespace rampart::tls
