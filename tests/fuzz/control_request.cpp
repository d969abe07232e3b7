// The control socket's request decoder (agent::decodeRequest) on one line of
// arbitrary bytes. A decoded request must have a command of the documented
// alphabet and object params, and must survive encode/decode unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/control_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rampart::agent;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto request = decodeRequest(line);
  if (!request) {
    if (request.error().message.empty()) __builtin_trap();
    return 0;
  }
  if (request->cmd.empty() || request->cmd.size() > 64 || !request->params.is_object()) __builtin_trap();
  for (char c : request->cmd) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) __builtin_trap();
  }
  std::string encoded = encodeRequest(*request);
  if (encoded.empty() || encoded.back() != '\n') __builtin_trap();
  encoded.pop_back();
  if (encoded.size() <= kMaxRequestBytes) {
    auto again = decodeRequest(encoded);
    if (!again || again->cmd != request->cmd || again->params != request->params) __builtin_trap();
  }
  // The answer decoder sees the agent's lines; it must hold against any line too.
  (void)decodeAnswer(line);
  return 0;
}
