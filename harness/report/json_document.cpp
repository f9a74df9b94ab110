#include "harness/report/json_document.hpp"

#include <algorithm>
#include <iterator>
#include <set>
#include <vector>

#include "harness/golden/csv_table.hpp"

namespace ulpgate {
namespace {

using json = nlohmann::json;

// Lines of the characters nlohmann's lexer has read. It reads one character past a number before
// reporting it, so events use the line of the last non-blank character read.
struct LineCounter {
  unsigned line = 1, token_line = 1;
  void saw(char c) {
    if (c == '\n')
      ++line;
    else if (c != ' ' && c != '\t' && c != '\r')
      token_line = line;
  }
};

// An input iterator over the text that tells a LineCounter each character it passes.
class CountingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator(const char* p, LineCounter* lines) : p_(p), lines_(lines) {}
  reference operator*() const { return *p_; }
  CountingIterator& operator++() {
    lines_->saw(*p_++);
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator before = *this;
    ++*this;
    return before;
  }
  bool operator==(const CountingIterator& other) const { return p_ == other.p_; }

 private:
  const char* p_;
  LineCounter* lines_;
};

// An object or array the parser is inside of, and where in it it is.
struct Open {
  Open(std::string path, bool array) : path(std::move(path)), array(array) {}
  std::string path;
  bool array;
  size_t index = 0;            // arrays: the next element
  std::string key;             // objects: the current member
  std::set<std::string> keys;  // objects: the members seen
};

// nlohmann's message without its prefix (the caller's is FILE:LINE): "[json.exception.parse_error.101]
// parse error at line 1, column 5: syntax error ..." or "[json.exception.out_of_range.406] number
// overflow parsing '1e400'".
std::string syntax_message(const json::exception& e) {
  std::string what = e.what();
  if (const size_t end = what.find("] "); end != std::string::npos) what.erase(0, end + 2);
  if (const size_t colon = what.find(": "); what.starts_with("parse error") && colon != std::string::npos)
    what.erase(0, colon + 2);
  return what;
}

std::string as_json(std::string_view s) { return json(s).dump(); }

// A value as it would be written, cut short: messages quote what they got.
std::string brief(const json& value) {
  const std::string text = value.dump();
  return text.size() <= 40 ? text : text.substr(0, 37) + "...";
}

std::string expected_name(json::value_t type) {
  switch (type) {
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::number_unsigned: return "a non-negative integer";
    default: return json(type).type_name();
  }
}

}  // namespace

JsonDocument::JsonDocument(std::string_view text, std::string file_name, Shape shape)
    : file_(std::move(file_name)) {
  parse(text, shape);
}

void JsonDocument::parse(std::string_view text, Shape shape) {
  LineCounter lines;
  std::vector<Open> open;
  const auto fail_here = [&](const std::string& what) { csv::fail_at(file_, lines.token_line, what); };
  const auto next_path = [&] {
    if (open.empty()) return std::string();
    const Open& o = open.back();
    return o.array ? element_path(o.path, o.index) : member_path(o.path, o.key);
  };
  const auto value_done = [&] {
    if (!open.empty() && open.back().array) ++open.back().index;
  };
  const json::parser_callback_t on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    using Event = json::parse_event_t;
    if (event == Event::key) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (std::find(shape.keys.begin(), shape.keys.end(), key) == shape.keys.end())
        fail_here("unknown key " + as_json(key));
      if (!open.back().keys.insert(key).second) fail_here("key " + as_json(key) + " given twice");
      open.back().key = key;
    } else if (event == Event::object_end || event == Event::array_end) {
      open.pop_back();
      value_done();
    } else {
      const std::string path = next_path();
      lines_.emplace(path, lines.token_line);
      if (event == Event::value) {
        value_done();
      } else {
        if (depth >= shape.max_depth)
          fail_here("expected at most " + std::to_string(shape.max_depth) + " levels of nested objects and arrays");
        open.emplace_back(path, event == Event::array_start);
      }
    }
    return true;
  };
  try {
    root_ = json::parse(CountingIterator(text.data(), &lines), CountingIterator(text.data() + text.size(), &lines),
                        on_event);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number beyond double
    fail_here(syntax_message(e));
  }
}

void JsonDocument::fail(const std::string& path, std::string_view what) const {
  const auto it = lines_.find(path);
  csv::fail_at(file_, it == lines_.end() ? 1 : it->second, (path.empty() ? "" : path + ": ") + std::string(what));
}

const JsonDocument::json& JsonDocument::expect(const json& value, const std::string& path, json::value_t type) const {
  if (value.type() != type) fail(path, "expected " + expected_name(type) + ", got " + brief(value));
  return value;
}

const JsonDocument::json& JsonDocument::member(const json& object, const std::string& path, std::string_view key,
                                               json::value_t type) const {
  const auto it = object.find(key);
  if (it == object.end()) fail(path, "expected the key " + as_json(key));
  return expect(*it, member_path(path, key), type);
}

void JsonDocument::only_keys(const json& object, const std::string& path,
                             std::span<const std::string_view> keys) const {
  for (const auto& [key, value] : object.items()) {
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
    std::string expected;
    for (std::string_view k : keys) expected += (expected.empty() ? "" : ", ") + std::string(k);
    fail(member_path(path, key), "not a key of this object (expected " + expected + ")");
  }
}

std::string JsonDocument::member_path(const std::string& object_path, std::string_view key) {
  return object_path.empty() ? std::string(key) : object_path + "." + std::string(key);
}

std::string JsonDocument::element_path(const std::string& array_path, size_t index) {
  return array_path + "[" + std::to_string(index) + "]";
}

}  // namespace ulpgate
