// The agent's log: one line per event on stderr, with its level. Under
// systemd (JOURNAL_STREAM names our stderr) each line starts with the
// sd-daemon priority prefix ("<6>") so journald files it at that level;
// elsewhere it reads "info: message". Only agent/ logs (STYLE.md rule 7),
// and never a secret: callers log paths and names, not file contents.
#pragma once

#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace rampart::agent::log {

// syslog priorities, as journald reads them.
enum class Level : int { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

// Writes one line (embedded newlines are escaped) with one write(2), so
// lines of concurrent writers never interleave.
void write(Level level, std::string_view message);
// Messages above this level are dropped (default Info; RAMPART_LOG_LEVEL=debug).
void setMaxLevel(Level level);
// Re-reads JOURNAL_STREAM (tests, and after stderr was redirected).
void detectJournal();

template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Error, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warning(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Warning, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void notice(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Notice, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Info, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Debug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace rampart::agent::log
