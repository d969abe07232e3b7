// The agent's side of the `fw` verbs: the control-socket handlers, the state
// store (agent/fw_state.h), the lock-out guard (agent/fw_guard.h), and the
// timers that end temporary rules and confirm windows.
//
// The agent is the single writer. Every handler runs on the io_context's
// thread and finishes its change (file and kernel) before the next request
// is read, so two CLIs changing rules at once are serialised, never
// interleaved.
//
// Order of a change, and why: the new state is written to the file first
// (temp, fsync, rename, fsync of the directory), then applied to the kernel
// in one netlink transaction. A kill -9 between the two leaves the file
// "after" and the kernel "before"; on restart the agent applies the file, so
// both end "after". The kernel can never be ahead of the file, so a restart
// never takes back a change the kernel had. When the kernel refuses the
// change, the old state is written back and the CLI told.
//
// Where CLI rules go: before the configuration file's rules, in the order
// they were added — a `fw deny` from the CLI beats a config `allow`, which is
// what an operator blocking an address in a hurry means. Bans come before
// everything (firewall/compile.h).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "agent/config.h"
#include "agent/control_server.h"
#include "agent/daemon.h"
#include "agent/fw_guard.h"
#include "agent/fw_state.h"

namespace rampart::agent {

class FirewallComponent;

struct FwServiceHooks {
  // The configuration file as `fw apply` and SIGHUP read it.
  std::function<std::expected<Config, Diagnostics>()> read_config;
  // The SIGHUP path: re-read the file, hand it to every component. An error
  // means the running configuration stayed.
  std::function<Result<void>()> reload;
  // The configuration running now.
  std::function<const Config&()> config;
  // Where /proc is (tests point it elsewhere).
  std::string proc_root = "/proc";
};

class FwService : public Component {
 public:
  FwService(boost::asio::io_context& io, FirewallComponent& firewall, FwServiceHooks hooks);
  ~FwService() override;

  std::string_view name() const override { return "firewall_cli"; }
  // Loads <state_dir>/firewall.json (a corrupt file is set aside and
  // logged), ends what expired while the agent was down, resumes timers.
  // Must start before the firewall component, whose applies it feeds.
  Result<void> start(const Config& config) override;
  Result<void> reload(const Config& config) override;
  void stop() override;
  nlohmann::json status() const override;

  // fw.status fw.allow fw.deny fw.delete fw.ban fw.unban fw.bans fw.plan
  // fw.apply fw.confirm fw.rollback.
  void registerHandlers(ControlServer& server);

  // The policy the kernel should hold for a configuration policy, with this
  // state: a rollback in force replaces it, CLI rules go first.
  fw::Policy effectivePolicy(const fw::Policy& config_policy, const FwState& state) const;
  // The CLI rules of `state` (those still in force whose names the
  // configuration has not taken) put in front of p's rules.
  void addCliRules(fw::Policy& p, const FwState& state) const;
  // The configuration's policy, or the one a rollback put back in force.
  const fw::Policy& basePolicy(const fw::Policy& config_policy, const FwState& state) const;
  // effectivePolicy()'s rules as pointers into `base` and `state`, without
  // copying 10,000 rules to look at them.
  std::vector<const fw::Rule*> effectiveRules(const fw::Policy& base, const FwState& state) const;

 private:
  using Clock = std::chrono::system_clock;

  Answer status(const Request& req);
  Answer addRule(const Request& req, fw::Action action);
  Answer deleteRule(const Request& req);
  Answer ban(const Request& req);
  Answer unban(const Request& req);
  Answer bans(const Request& req);
  Answer plan(const Request& req);
  Answer apply(const Request& req);
  Answer confirm(const Request& req);
  Answer rollback(const Request& req);

  // Guard, save, apply; on a kernel refusal the old state comes back.
  // `bans` lists the changes when only bans changed (they may go to the
  // journal instead of a whole new state file).
  Answer commit(FwState next, const Request& req, nlohmann::json result,
                std::optional<std::vector<BanChange>> bans = std::nullopt);
  std::vector<std::string> guard(const fw::Policy& before_cfg, const FwState& before,
                                 const fw::Policy& after_cfg, const FwState& after,
                                 const Request& req) const;
  Result<void> save(const FwState& state);
  // A change of bans alone: appended to the journal while it is short
  // beside the bans there are, else a whole save.
  Result<void> saveBans(const FwState& state, const std::vector<BanChange>& changes);
  void rollBackNow(const std::string& why);
  void armTimers();
  void onExpiry();
  const fw::Policy& configPolicy() const;

  boost::asio::io_context& io_;
  FirewallComponent& firewall_;
  FwServiceHooks hooks_;
  std::string path_;
  FwState state_;
  bool writable_ = false;  // false when the file could not be read (never overwrite it)
  // Lines in the ban journal since the last whole save; SIZE_MAX when it
  // must not be appended to (a line may have been cut short).
  size_t journal_lines_ = 0;
  std::string load_problem_;
  boost::asio::steady_timer expiry_timer_;
  boost::asio::steady_timer confirm_timer_;
  // `fw ban --file` in several requests: addresses staged by batch id until
  // the last part arrives.
  struct Staged {
    std::vector<fw::Cidr> cidrs;
    std::optional<std::chrono::milliseconds> duration;
    std::chrono::steady_clock::time_point touched;
  };
  std::map<std::string, Staged> staged_;
};

}  // namespace rampart::agent
