// Text rendering of the agent's `fw` answers for people (`--json` prints the
// answer itself). Pure functions of the answer and the time, so golden tests
// need no agent.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace rampart::agent {

// "in 59m", "in 1h2m", "expired"; `now_ms`/`at_ms` in ms since the epoch.
std::string remaining(int64_t now_ms, int64_t at_ms);

// The numbered rule table of `fw status` and the bans line.
std::string renderFwStatus(const nlohmann::json& status, int64_t now_ms);

// `fw bans`: one address or network a line with its remaining time.
std::string renderFwBans(const nlohmann::json& bans);

}  // namespace rampart::agent
