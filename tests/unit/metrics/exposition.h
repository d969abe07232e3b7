// A small reader of the text exposition format, for comparing scrapes.
#pragma once

#include <charconv>
#include <map>
#include <string>
#include <string_view>

namespace rampart::metrics::test {

struct Exposition {
  std::map<std::string, std::string> types;                          // family -> type
  std::map<std::string, std::map<std::string, double>> samples;      // family -> labels -> value
};

inline double parseValue(std::string_view s) {
  if (s == "+Inf") return 1.0 / 0.0;
  if (s == "-Inf") return -1.0 / 0.0;
  double v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// Labels are kept in their printed form ("{a=\"1\",b=\"2\"}") after sorting by
// name, so two printers that order labels differently still agree.
inline Exposition parseExposition(std::string_view text) {
  Exposition e;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.starts_with("# TYPE ")) {
      line.remove_prefix(7);
      size_t sp = line.find(' ');
      e.types[std::string(line.substr(0, sp))] = std::string(line.substr(sp + 1));
      continue;
    }
    if (line.empty() || line.front() == '#') continue;
    size_t name_end = line.find_first_of("{ ");
    std::string name(line.substr(0, name_end));
    std::map<std::string, std::string> labels;
    size_t i = name_end;
    if (line[i] == '{') {
      ++i;
      while (line[i] != '}') {
        size_t eq = line.find('=', i);
        std::string key(line.substr(i, eq - i));
        std::string value;
        for (i = eq + 2; line[i] != '"'; ++i) {
          if (line[i] == '\\') {
            ++i;
            value += line[i] == 'n' ? '\n' : line[i];
          } else {
            value += line[i];
          }
        }
        labels[key] = value;
        ++i;
        if (line[i] == ',') ++i;
      }
      ++i;
    }
    std::string_view rest = line.substr(i + 1);
    rest = rest.substr(0, rest.find(' '));  // drop a timestamp
    std::string key;
    for (const auto& [k, v] : labels) key += k + "=\"" + v + "\",";
    e.samples[name][key] = parseValue(rest);
  }
  return e;
}

}  // namespace rampart::metrics::test
