// The control socket's wire format: one JSON object per line, each way.
//
//   request:  {"cmd": "status", "params": {...}}        params optional
//   answer:   {"ok": true,  "result": {...}}
//             {"ok": false, "error": "what went wrong", "code": "not_found"}
//
// A line is at most kMaxRequestBytes (newline excluded); an answer at most
// kMaxAnswerBytes. decodeRequest is a pure function of the line (fuzzed).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace rampart::agent {

inline constexpr size_t kMaxRequestBytes = 64 * 1024;
inline constexpr size_t kMaxAnswerBytes = 16 * 1024 * 1024;
// Nesting deeper than this is refused before parsing.
inline constexpr int kMaxJsonDepth = 32;

struct Request {
  std::string cmd;                                   // [a-z0-9_.-]{1,64}
  nlohmann::json params = nlohmann::json::object();  // always an object
};

struct Answer {
  bool ok = true;
  nlohmann::json result = nlohmann::json::object();  // when ok
  std::string error;                                 // when !ok
  std::string code;  // when !ok: machine-readable ("bad_request", "unknown_command", ...)

  static Answer success(nlohmann::json result) { return Answer{true, std::move(result), {}, {}}; }
  static Answer failure(std::string code, std::string error) {
    return Answer{false, nlohmann::json::object(), std::move(error), std::move(code)};
  }
};

// Parses one request line (without its newline).
Result<Request> decodeRequest(std::string_view line);
// One line, newline included.
std::string encodeRequest(const Request& request);

Result<Answer> decodeAnswer(std::string_view line);
// One line, newline included; invalid UTF-8 in strings is replaced.
std::string encodeAnswer(const Answer& answer);

}  // namespace rampart::agent
