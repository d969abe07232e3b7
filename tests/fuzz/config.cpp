// The configuration and policy parser (agent::parseConfig) on arbitrary text.
// Any input must give a Config or diagnostics; each diagnostic must name the
// file and carry a message.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = rampart::agent::parseConfig(text, "fuzz.yaml");
  if (!config) {
    if (config.error().ok()) __builtin_trap();  // a failure says what is wrong
    for (const auto& d : config.error().items()) {
      if (d.message.empty() || d.loc.file != "fuzz.yaml") __builtin_trap();
    }
  }
  return 0;
}
