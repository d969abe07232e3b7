// The value parsers behind the CLI's arguments and the policy's fields:
// ports, CIDRs, durations, rates and listen addresses. The first byte picks
// the parser, the rest is the text. What parses must print back to a text
// that parses to the same value.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/config.h"
#include "common/units.h"
#include "firewall/policy.h"

namespace {

template <class T>
void roundTrip(std::string_view text) {
  auto value = T::parse(text);
  if (!value) {
    if (value.error().empty()) __builtin_trap();  // an error says what is wrong
    return;
  }
  auto again = T::parse(value->str());
  if (!again || !(*again == *value)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      roundTrip<rampart::fw::PortSpec>(text);
      break;
    case 1:
      roundTrip<rampart::fw::Cidr>(text);
      break;
    case 2:
      roundTrip<rampart::Duration>(text);
      break;
    case 3:
      roundTrip<rampart::Rate>(text);
      break;
    default: {
      auto listen = rampart::agent::parseListen(text);
      if (listen) {
        auto again = rampart::agent::parseListen(listen->str());
        if (!again || !(*again == *listen)) __builtin_trap();
      } else if (listen.error().empty()) {
        __builtin_trap();
      }
      break;
    }
  }
  return 0;
}
