// What the agent hands the metrics module: the values that live in the agent
// (not in procfs), each read through a callback at scrape time. Callbacks run
// on the scraping thread; they must be safe to call from it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "firewall/engine.h"

namespace rampart::metrics {

// A certificate whose expiry is exported (the agent's own and every
// `watch_certificates` entry).
struct TlsCertificate {
  std::string path;
  std::string subject;    // one-line form, e.g. "CN=web-01"
  int64_t not_after = 0;  // seconds since the Unix epoch
};

struct TlsHandshakes {
  uint64_t success = 0;
  uint64_t failure = 0;
};

// Certificate reloads of the agent's endpoint (a changed file, SIGHUP).
struct TlsReloads {
  uint64_t success = 0;
  uint64_t failure = 0;  // the new files were refused; the old identity serves on
};

struct FirewallCounters {
  uint64_t applies_success = 0;
  uint64_t applies_error = 0;
  std::optional<double> last_apply_seconds;  // Unix time of the last apply; none yet: absent
  uint64_t drift = 0;                        // table changed behind our back and restored
};

using FirewallStateFn = std::function<Result<fw::LiveState>()>;
using FirewallCountersFn = std::function<FirewallCounters()>;
using TlsCertificatesFn = std::function<std::vector<TlsCertificate>()>;
using TlsHandshakesFn = std::function<TlsHandshakes()>;
using TlsReloadsFn = std::function<TlsReloads()>;

}  // namespace rampart::metrics
