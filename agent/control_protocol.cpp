#include "agent/control_protocol.h"

#include <algorithm>

namespace rampart::agent {
namespace {

using nlohmann::json;

// The deepest bracket nesting outside strings; stops counting past `limit`.
int nestingDepth(std::string_view text, int limit) {
  int depth = 0;
  int max_depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > limit) return max_depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return max_depth;
}

bool validCommand(std::string_view cmd) {
  return !cmd.empty() && cmd.size() <= 64 && std::all_of(cmd.begin(), cmd.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

Result<json> parseObject(std::string_view line, size_t max_bytes, std::string_view what) {
  if (line.size() > max_bytes) {
    return fail("{} is {} bytes, over the limit of {} bytes", what, line.size(), max_bytes);
  }
  if (nestingDepth(line, kMaxJsonDepth) > kMaxJsonDepth) {
    return fail("{} is nested deeper than {} levels", what, kMaxJsonDepth);
  }
  json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail("{} is not valid JSON", what);
  if (!j.is_object()) return fail("{} must be a JSON object", what);
  return j;
}

std::string dumpLine(const json& j) {
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  s += '\n';
  return s;
}

}  // namespace

Result<Request> decodeRequest(std::string_view line) {
  auto j = parseObject(line, kMaxRequestBytes, "the request");
  if (!j) return std::unexpected(j.error());
  Request req;
  for (auto& [key, value] : j->items()) {
    if (key == "cmd") {
      if (!value.is_string()) return fail("the request's \"cmd\" must be a string");
      req.cmd = value.get<std::string>();
    } else if (key == "params") {
      if (!value.is_object()) return fail("the request's \"params\" must be an object");
      req.params = std::move(value);
    } else {
      return fail("the request has an unknown field \"{}\" (expected cmd, params)",
                  key.size() > 64 ? key.substr(0, 64) + "..." : key);
    }
  }
  if (req.cmd.empty()) return fail("the request has no \"cmd\"");
  if (!validCommand(req.cmd)) return fail("the request's \"cmd\" is not a command name");
  return req;
}

std::string encodeRequest(const Request& request) {
  json j = {{"cmd", request.cmd}};
  if (!request.params.empty()) j["params"] = request.params;
  return dumpLine(j);
}

Result<Answer> decodeAnswer(std::string_view line) {
  auto j = parseObject(line, kMaxAnswerBytes, "the answer");
  if (!j) return std::unexpected(j.error());
  auto ok = j->find("ok");
  if (ok == j->end() || !ok->is_boolean()) return fail("the answer has no boolean \"ok\"");
  Answer a;
  a.ok = ok->get<bool>();
  if (a.ok) {
    if (auto r = j->find("result"); r != j->end()) a.result = std::move(*r);
    return a;
  }
  auto err = j->find("error");
  a.error = err != j->end() && err->is_string() ? err->get<std::string>() : "unknown error";
  auto code = j->find("code");
  a.code = code != j->end() && code->is_string() ? code->get<std::string>() : "error";
  return a;
}

std::string encodeAnswer(const Answer& answer) {
  if (answer.ok) return dumpLine(json{{"ok", true}, {"result", answer.result}});
  return dumpLine(json{{"ok", false}, {"error", answer.error}, {"code", answer.code}});
}

}  // namespace rampart::agent
