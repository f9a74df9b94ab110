// A JSON text read with nlohmann::json that remembers the line on which each value starts, so a
// reader can say "FILE:LINE: PATH: what was expected" about any value, not only about syntax.
// Paths read like code: "tensors[1].shape[0]"; the root's path is "".
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

namespace ulpgate {

class JsonDocument {
 public:
  using json = nlohmann::json;

  // What the text may hold at all. Every key is one of `keys` (which bounds the paths kept for
  // the lines) and containers nest at most `max_depth` deep.
  struct Shape {
    std::span<const std::string_view> keys;
    int max_depth;
  };

  // UsageError "FILE:LINE: what was expected" on a syntax error, an unknown key, a key given
  // twice in one object (nlohmann would keep the last silently) or nesting beyond max_depth.
  JsonDocument(std::string_view text, std::string file_name, Shape shape);

  const json& root() const { return root_; }

  // UsageError "FILE:LINE: PATH: what", LINE being where the value at `path` starts.
  [[noreturn]] void fail(const std::string& path, std::string_view what) const;

  // `value` (at `path`), checked to be of `type`. For numbers only number_unsigned is asked for:
  // nlohmann reads every non-negative integer as one.
  const json& expect(const json& value, const std::string& path, json::value_t type) const;
  // The member `key` of `object`, which must exist and be of `type`.
  const json& member(const json& object, const std::string& path, std::string_view key,
                     json::value_t type) const;
  // Fails on a member of `object` whose key is not in `keys`.
  void only_keys(const json& object, const std::string& path, std::span<const std::string_view> keys) const;

  static std::string member_path(const std::string& object_path, std::string_view key);
  static std::string element_path(const std::string& array_path, size_t index);

 private:
  void parse(std::string_view text, Shape shape);

  std::string file_;
  json root_;
  std::map<std::string, unsigned, std::less<>> lines_;  // path -> line the value starts on
};

}  // namespace ulpgate
