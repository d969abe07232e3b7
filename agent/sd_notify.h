// The two pieces of systemd's service protocol the agent speaks, without
// linking libsystemd (and the compression and crypto libraries it pulls
// in, which every `rampart fw ...` process would otherwise load):
// sd_notify(3) messages to $NOTIFY_SOCKET and the watchdog interval from
// $WATCHDOG_USEC / $WATCHDOG_PID.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace rampart::agent {

// Sends `state` ("READY=1", "WATCHDOG=1", ...) to the service manager.
// False when NOTIFY_SOCKET is unset (not under systemd) or the send failed.
bool notifyServiceManager(std::string_view state);

// The watchdog interval systemd expects pings within, when it is on for
// this process.
std::optional<std::chrono::microseconds> serviceWatchdog();

}  // namespace rampart::agent
