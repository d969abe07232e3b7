// A Ruleset as text, printed by libnftnl's own printers (nftnl_*_snprintf):
// the form golden files and `fw status --kernel` show.
#pragma once

#include <string>

#include "firewall/ruleset.h"

namespace rampart::fw {

std::string render(const Ruleset& rs);

}  // namespace rampart::fw
