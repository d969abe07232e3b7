// The text exposition format (0.0.4) written with fmt into one string.
// Byte for byte what prometheus::TextSerializer writes (the tests compare
// them), at a fraction of its cost: TextSerializer goes through an ostream
// and printf for every value. One deliberate difference: HELP text is
// escaped (\\ and \n) as the format requires; TextSerializer 1.0.1 writes it
// raw, so a newline in it would break the exposition.
#pragma once

#include <span>
#include <string>

#include "metrics/family.h"

namespace rampart::metrics {

// Appends the exposition of `families` to `out`.
void serializeText(std::span<const prometheus::MetricFamily> families, std::string& out);

}  // namespace rampart::metrics
