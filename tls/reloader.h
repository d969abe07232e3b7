// Certificate reload without a restart. The files are checked by
// inode/size/mtime (on a timer and on demand); when they changed, the new pair
// is loaded and validated, and only then a new ServerContext replaces the
// current one. Open sessions keep the context they were accepted with. A bad
// new file is returned as an error and counted; the old identity keeps serving.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/error.h"
#include "tls/server_context.h"

namespace rampart::tls {

// What identifies one version of a file without reading it.
struct FileStamp {
  bool exists = false;
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};
FileStamp stampOf(const std::string& path);

class Reloader : public std::enable_shared_from_this<Reloader> {
 public:
  // Loads the first context; an error here is a start-up error. `tickets`:
  // none makes one set of ticket keys (default rotation) for all contexts.
  static Result<std::shared_ptr<Reloader>> create(ServerConfig config,
                                                  std::shared_ptr<HandshakeCounters> counters = {},
                                                  std::shared_ptr<TicketKeys> tickets = {});

  // The context new connections use.
  std::shared_ptr<ServerContext> current() const;

  // When the files changed since the last attempt: load, validate, swap.
  // true: a new context is in place; false: nothing changed (or the files are
  // changing right now; the next check picks them up); error: the new files
  // are bad and the old context stays (reported once per change).
  Result<bool> check();
  // Loads whatever the files hold now (SIGHUP).
  Result<bool> reload();

  // Checks every `interval` on `io`; `report` receives every result other
  // than "unchanged" (the agent logs it). Stops with stop() or when the
  // Reloader is destroyed.
  void watch(boost::asio::io_context& io, std::chrono::milliseconds interval,
             std::function<void(const Result<bool>&)> report);
  void stop();

  uint64_t reloads() const { return reloads_.load(); }
  uint64_t failures() const { return failures_.load(); }
  const HandshakeCounters& handshakes() const { return *counters_; }
  const std::shared_ptr<HandshakeCounters>& sharedHandshakes() const { return counters_; }
  // The session ticket keys every context of this Reloader shares, so
  // tickets issued before a reload resume after it.
  const std::shared_ptr<TicketKeys>& ticketKeys() const { return tickets_; }
  const ServerConfig& config() const { return config_; }

 private:
  Reloader(ServerConfig config, std::shared_ptr<HandshakeCounters> counters, std::shared_ptr<TicketKeys> tickets);
  std::vector<FileStamp> stamps() const;
  Result<bool> load(bool force);
  void arm();

  ServerConfig config_;
  std::shared_ptr<HandshakeCounters> counters_;
  std::shared_ptr<TicketKeys> tickets_;
  mutable std::mutex mu_;
  std::shared_ptr<ServerContext> current_;
  std::vector<FileStamp> attempted_;  // stamps of the last load attempt, good or bad
  std::atomic<uint64_t> reloads_{0};
  std::atomic<uint64_t> failures_{0};

  std::optional<boost::asio::steady_timer> timer_;
  std::chrono::milliseconds interval_{0};
  std::function<void(const Result<bool>&)> report_;
};

}  // namespace rampart::tls
