#include "agent/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <string>

namespace rampart::agent::log {
namespace {

std::atomic<int> g_max_level{static_cast<int>(Level::Info)};
std::atomic<int> g_journal{-1};  // -1: not yet detected

// JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected; it only
// counts when stderr is still that stream (sd_journal_stream_fd(3)).
bool stderrIsJournal() {
  const char* env = std::getenv("JOURNAL_STREAM");
  if (env == nullptr) return false;
  std::string_view s(env);
  const size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  auto r1 = std::from_chars(s.data(), s.data() + colon, dev);
  auto r2 = std::from_chars(s.data() + colon + 1, s.data() + s.size(), ino);
  if (r1.ec != std::errc() || r2.ec != std::errc()) return false;
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

std::string_view levelName(Level level) {
  switch (level) {
    case Level::Error: return "error";
    case Level::Warning: return "warning";
    case Level::Notice: return "notice";
    case Level::Info: return "info";
    case Level::Debug: return "debug";
  }
  return "info";
}

}  // namespace

void detectJournal() { g_journal = stderrIsJournal() ? 1 : 0; }

void setMaxLevel(Level level) { g_max_level = static_cast<int>(level); }

void write(Level level, std::string_view message) {
  if (static_cast<int>(level) > g_max_level) return;
  if (g_journal < 0) detectJournal();
  std::string line;
  line.reserve(message.size() + 16);
  if (g_journal == 1) {
    line += fmt::format("<{}>", static_cast<int>(level));
  } else {
    line += levelName(level);
    line += ": ";
  }
  for (char c : message) {
    if (c == '\n') line += "\\n";
    else if (c == '\r') line += "\\r";
    else line += c;
  }
  line += '\n';
  // One write per line; a short write to a full pipe is retried, an error
  // has nowhere to be reported.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace rampart::agent::log
