// Network namespaces for tests: make one, run commands in it, enter it from
// a thread, join two with a veth pair. Everything is removed on destruction,
// also when a test fails half-way.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace rampart::test {

struct CommandResult {
  int status = -1;      // exit code; -1 when it did not exit normally or timed out
  bool timed_out = false;
  std::string output;   // stdout and stderr together
};

// Runs `/bin/sh -c command` with a deadline; the child is killed (by its pid)
// when the deadline passes. Output is bounded to 1 MiB.
CommandResult runCommand(const std::string& command,
                         std::chrono::milliseconds timeout = std::chrono::seconds(20));

class NetNs {
 public:
  // `ip netns add` with a unique name starting with `prefix`; loopback up.
  static std::optional<NetNs> create(std::string_view prefix = "rampart-test");
  NetNs(NetNs&& other) noexcept;
  NetNs& operator=(NetNs&&) = delete;
  NetNs(const NetNs&) = delete;
  ~NetNs();

  const std::string& name() const { return name_; }
  // `ip netns exec <name> sh -c command`.
  CommandResult run(const std::string& command,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

  // While alive, the calling thread is inside the namespace (setns);
  // sockets it opens meanwhile belong to the namespace.
  class Entered {
   public:
    explicit Entered(const NetNs& ns);
    ~Entered();
    Entered(const Entered&) = delete;
    Entered& operator=(const Entered&) = delete;
    bool ok() const { return ok_; }

   private:
    int previous_ = -1;
    bool ok_ = false;
  };
  Entered enter() const { return Entered(*this); }

 private:
  explicit NetNs(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

// A veth pair between two namespaces, both ends up, with addresses such as
// "10.99.0.1/24" and "fd99::1/64" (IPv6 without duplicate address detection).
bool vethPair(const NetNs& a, std::string_view a_if, std::string_view a_v4, std::string_view a_v6,
              const NetNs& b, std::string_view b_if, std::string_view b_v4, std::string_view b_v6);

}  // namespace rampart::test
