// The agent's control socket: a Unix stream socket speaking one JSON object
// per line each way (agent/control_protocol.h), served on the agent's
// io_context. Every connection is asynchronous, so clients never block each
// other or the daemon.
//
// Who may talk: the peer is identified with SO_PEERCRED when it connects
// and refused (one error answer, then the connection is closed) unless it
// is root or a member (primary or supplementary group) of the group
// `rampart`. The socket file is mode 0660, owner root, group `rampart`
// when that group exists.
//
// Bounds: a request line is at most 64 KiB (over it: an error answer and
// the connection is closed); a connection that sends nothing, or does not
// read its answer, for `idle_timeout` is closed; at most `max_connections`
// at once; one request is handled at a time per connection, so a client
// that never reads makes the server hold one answer, not a queue of them.
//
// Adding commands (the `fw` verbs live in their own files and register
// themselves from the daemon's wiring, see agent/daemon.cpp):
//
//   server.on("fw.status", [&](const Request& req, const Peer& peer) {
//     return Answer::success({{"rules", ...}});   // or Answer::failure("code", "message")
//   });
//
//   // A handler whose answer comes later (after a netlink round trip, a
//   // timer...): call `reply` exactly once, on the io_context's thread.
//   server.onAsync("fw.apply", [&](const Request& req, const Peer& peer,
//                                 ControlServer::Reply reply) { ...; reply(answer); });
//
// Handlers run on the io_context's thread; they must not block. A handler
// that throws is answered with an "internal" error. Command names are
// [a-z0-9_.-]{1,64}; by convention "<group>.<verb>" ("fw.allow", "tls.show").
// Registering a name twice replaces the handler. Built in: "ping".
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "agent/control_protocol.h"
#include "common/error.h"

namespace rampart::agent {

inline constexpr std::string_view kControlGroup = "rampart";

// Who is on the other end of a connection (SO_PEERCRED at connect time).
struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct ControlServerOptions {
  std::string path;
  // Closes a connection idle (no request, or an answer not read) this long.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(5)};
  size_t max_connections = 64;
  // The group whose members may connect. nullopt: the group `rampart` if it
  // exists; if it does not, only root.
  std::optional<gid_t> group;
  mode_t mode = 0660;
};

class ControlServer {
 public:
  using Reply = std::function<void(Answer)>;
  using Handler = std::function<Answer(const Request&, const Peer&)>;
  using AsyncHandler = std::function<void(const Request&, const Peer&, Reply)>;

  // Creates the socket file (replacing a stale one; refusing when another
  // process is listening on it or when the path is not a socket) and starts
  // accepting on `io`.
  static Result<std::unique_ptr<ControlServer>> create(boost::asio::io_context& io,
                                                       ControlServerOptions options);
  ~ControlServer();  // stop()
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  void on(std::string cmd, Handler handler);
  void onAsync(std::string cmd, AsyncHandler handler);
  // The registered command names, sorted.
  std::vector<std::string> commands() const;

  // Closes the listener and every connection and removes the socket file.
  void stop();
  size_t connections() const;
  const std::string& path() const;

  struct Impl;

 private:
  explicit ControlServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// Whether a peer may use the control socket: root, or `group` is its
// primary or one of its supplementary groups (`supplementary` as read from
// SO_PEERGROUPS or /proc/<pid>/status).
bool peerAllowed(const Peer& peer, std::optional<gid_t> group,
                 const std::vector<gid_t>& supplementary);

}  // namespace rampart::agent
