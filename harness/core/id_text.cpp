#include "harness/core/id_text.hpp"

#include <charconv>
#include <climits>

#include "reference/formats/formats.hpp"

namespace ulpgate::id_text {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    const size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

int64_t parse_int(std::string_view text, std::string_view what, std::string_view id) {
  int64_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 0)
    throw UsageError("case '" + std::string(id) + "': bad " + std::string(what) + " '" + std::string(text) +
                     "' (expected a non-negative integer)");
  return v;
}

std::string float_text(float v) {
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return std::string(buf, end);
}

float parse_positive_float(std::string_view text, std::string_view what, std::string_view id) {
  float v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !(v > 0) || v > 3.4e38f)
    throw UsageError("case '" + std::string(id) + "': bad " + std::string(what) + " '" + std::string(text) +
                     "' (expected a positive finite number)");
  return v;
}

std::string_view strip_prefix(std::string_view s, std::string_view prefix, std::string_view what,
                              std::string_view id) {
  if (!s.starts_with(prefix))
    throw UsageError("case '" + std::string(id) + "': " + std::string(what) + " segment '" + std::string(s) +
                     "' must start with '" + std::string(prefix) + "'");
  return s.substr(prefix.size());
}

std::pair<int64_t, int64_t> parse_shape(std::string_view text, std::string_view id) {
  const auto mk = split(text, 'x');
  if (mk.size() != 2) throw UsageError("case '" + std::string(id) + "': shape '" + std::string(text) + "' is not MxK");
  return {parse_int(mk[0], "M", id), parse_int(mk[1], "K", id)};
}

int parse_group_size(std::string_view segment, std::string_view id) {
  const int64_t gs = parse_int(strip_prefix(segment, "gs", "group", id), "group size", id);
  if (gs > INT_MAX)
    throw UsageError("case '" + std::string(id) + "': group size " + std::to_string(gs) + " is too large (at most " +
                     std::to_string(INT_MAX) + ")");
  return int(gs);
}

}  // namespace ulpgate::id_text
