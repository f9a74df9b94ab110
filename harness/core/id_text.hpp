// Pieces of case-id parsing that every family shares: segments, integers, prefixed fields.
// Errors are UsageError messages that quote the id and say what was expected.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ulpgate::id_text {

std::vector<std::string_view> split(std::string_view s, char sep);
// A non-negative decimal integer; `what` names the field in the error.
int64_t parse_int(std::string_view text, std::string_view what, std::string_view id);
// s without `prefix`; an error when s does not start with it.
std::string_view strip_prefix(std::string_view s, std::string_view prefix, std::string_view what,
                              std::string_view id);
// A float as the shortest text that reads back as the same float ("0.0123").
std::string float_text(float v);
// A positive finite float written by float_text; `what` names the field in the error.
float parse_positive_float(std::string_view text, std::string_view what, std::string_view id);
// "MxK" -> {M, K}
std::pair<int64_t, int64_t> parse_shape(std::string_view text, std::string_view id);
// "gsN" -> N, which must fit an int (Spec::gs): a wider N would wrap and change the case.
int parse_group_size(std::string_view segment, std::string_view id);

}  // namespace ulpgate::id_text
