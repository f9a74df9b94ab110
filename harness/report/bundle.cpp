#include "harness/report/bundle.hpp"

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <set>
#include <stdexcept>
#include <system_error>

#include "harness/golden/csv_table.hpp"
#include "harness/golden/golden_file.hpp"
#include "harness/report/json_document.hpp"
#include "reference/formats/formats.hpp"

namespace ulpgate {

namespace {

// A tensor's name is its file's stem: [A-Za-z0-9._-]+, not starting with '.'.
bool plain_file_stem(std::string_view name) {
  return !name.empty() && name.front() != '.' &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
             std::string_view::npos;
}

// "[4, 256]", as case.json writes a shape.
std::string shape_text(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void check_tensor(const BundleTensor& t) {
  if (!plain_file_stem(t.name))
    throw std::invalid_argument("bundle tensor name '" + t.name + "' is not a plain file stem");
  if (bundle_dtype_size(t.dtype) == 0)
    throw std::invalid_argument("bundle tensor " + t.name + ": unknown dtype '" + t.dtype + "'");
  const auto bytes = bundle_tensor_bytes(t.shape, t.dtype);
  if (!bytes) throw std::invalid_argument("bundle tensor " + t.name + ": bad shape " + shape_text(t.shape));
  if (*bytes != t.data.size())
    throw std::invalid_argument("bundle tensor " + t.name + ": " + std::to_string(t.data.size()) +
                                " bytes do not hold shape " + shape_text(t.shape) + " of " + t.dtype);
}

std::string json_list(const std::vector<std::string>& items, std::string_view indent) {
  if (items.empty()) return "[]";
  std::string s = "[\n";
  for (size_t i = 0; i < items.size(); ++i)
    s += std::string(indent) + "  " + items[i] + (i + 1 < items.size() ? ",\n" : "\n");
  return s + std::string(indent) + "]";
}

std::string tensor_json(const BundleTensor& t) {
  return "{\"name\": " + json_string(t.name) + ", \"role\": " + json_string(t.role) +
         ", \"dtype\": " + json_string(t.dtype) + ", \"shape\": " + shape_text(t.shape) +
         ", \"file\": " + json_string(t.name + ".bin") + ", \"bytes\": " + std::to_string(t.data.size()) + "}";
}

void write_file(const std::filesystem::path& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), std::streamsize(size));
  out.close();
  if (!out) throw std::system_error(errno, std::generic_category(), "writing " + path.string());
}

}  // namespace

size_t bundle_dtype_size(std::string_view dtype) {
  if (dtype == "int32" || dtype == "uint32") return 4;
  if (dtype == "uint8") return 1;
  for (Format f : kAllFormats)
    if (format_name(f) == dtype) return size_t(info(f).bits / 8);
  return 0;
}

std::optional<uint64_t> bundle_tensor_bytes(std::span<const int64_t> shape, std::string_view dtype) {
  uint64_t bytes = bundle_dtype_size(dtype);
  if (bytes == 0) return std::nullopt;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(bytes, uint64_t(d), &bytes)) return std::nullopt;
  return bytes;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string bundle_json(const Bundle& b) {
  std::set<std::string> names;
  std::vector<std::string> tensors, first_bad;
  for (const BundleTensor& t : b.tensors) {
    check_tensor(t);
    if (!names.insert(t.name).second) throw std::invalid_argument("two bundle tensors named " + t.name);
    tensors.push_back(tensor_json(t));
  }
  for (const std::string& line : b.first_bad) first_bad.push_back(json_string(line));
  return "{\n"
         "  \"format\": \"ulpgate-bundle-1\",\n"
         "  \"case_id\": " + json_string(b.case_id) + ",\n" +
         "  \"suite_version\": " + json_string(b.suite_version) + ",\n" +
         "  \"commit\": " + json_string(b.commit) + ",\n" +
         "  \"arch\": " + json_string(b.arch) + ",\n" +
         "  \"backend\": " + json_string(b.backend) + ",\n" +
         "  \"verdict\": " + json_string(verdict_name(b.verdict)) + ",\n" +
         "  \"message\": " + json_string(b.message) + ",\n" +
         "  \"first_bad\": " + json_list(first_bad, "  ") + ",\n" +
         "  \"tensors\": " + json_list(tensors, "  ") + "\n}\n";
}

void write_bundle(const std::filesystem::path& dir, const Bundle& bundle) {
  const std::string json = bundle_json(bundle);  // validates before anything is written
  std::filesystem::create_directories(dir);
  for (const BundleTensor& t : bundle.tensors) write_file(dir / (t.name + ".bin"), t.data.data(), t.data.size());
  write_file(dir / "case.json", json.data(), json.size());
}

// ---- reading -------------------------------------------------------------------------------

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::string_view kFormat = "ulpgate-bundle-1";
// Every key case.json may hold: the bundle's, then a tensor's. Its nesting: the bundle, tensors,
// a tensor, its shape.
constexpr std::string_view kKeys[] = {"format",  "case_id", "suite_version", "commit", "arch",  "backend",
                                      "verdict", "message", "first_bad",     "tensors", "name", "role",
                                      "dtype",   "shape",   "file",          "bytes"};
constexpr std::span<const std::string_view> kBundleKeys(kKeys, 10), kTensorKeys(kKeys + 10, 6);
constexpr int kMaxDepth = 4;
// A real case.json is a few KiB (a handful of tensors and first-bad lines).
constexpr uintmax_t kMaxJsonBytes = 1 << 20;

std::string dtype_names() {
  std::string s;
  for (Format f : kAllFormats) s += std::string(format_name(f)) + ", ";
  return s + "int32, uint32 or uint8";
}

std::string string_member(const JsonDocument& doc, const json& object, const std::string& path,
                          std::string_view key) {
  return doc.member(object, path, key, json::value_t::string).get<std::string>();
}

std::vector<int64_t> shape_of(const JsonDocument& doc, const json& tensor, const std::string& path) {
  const std::string shape_path = JsonDocument::member_path(path, "shape");
  const json& dims = doc.member(tensor, path, "shape", json::value_t::array);
  std::vector<int64_t> shape;
  for (size_t i = 0; i < dims.size(); ++i) {
    const std::string dim_path = JsonDocument::element_path(shape_path, i);
    const auto d = doc.expect(dims[i], dim_path, json::value_t::number_unsigned).get<uint64_t>();
    if (d > uint64_t(INT64_MAX)) doc.fail(dim_path, "expected a dimension below 2^63");
    shape.push_back(int64_t(d));
  }
  return shape;
}

// One entry of "tensors", without its data (which is in its .bin file).
BundleTensor tensor_entry(const JsonDocument& doc, const json& entry, const std::string& path) {
  doc.expect(entry, path, json::value_t::object);
  doc.only_keys(entry, path, kTensorKeys);
  BundleTensor t{string_member(doc, entry, path, "name"), string_member(doc, entry, path, "role"),
                 string_member(doc, entry, path, "dtype"), shape_of(doc, entry, path), {}};
  const auto field = [&](std::string_view key) { return JsonDocument::member_path(path, key); };
  if (!plain_file_stem(t.name))
    doc.fail(field("name"), "expected a plain file stem ([A-Za-z0-9._-]+, not starting with '.'), got " +
                                json_string(t.name));
  if (bundle_dtype_size(t.dtype) == 0)
    doc.fail(field("dtype"), "unknown dtype " + json_string(t.dtype) + ": expected " + dtype_names());
  if (string_member(doc, entry, path, "file") != t.name + ".bin")
    doc.fail(field("file"), "expected " + json_string(t.name + ".bin") + " (the name's file)");
  const auto bytes = bundle_tensor_bytes(t.shape, t.dtype);
  if (!bytes) doc.fail(field("shape"), "shape " + shape_text(t.shape) + " of " + t.dtype + " exceeds 2^64 bytes");
  const auto declared = doc.member(entry, path, "bytes", json::value_t::number_unsigned).get<uint64_t>();
  if (declared != *bytes)
    doc.fail(field("bytes"), "expected " + std::to_string(*bytes) + " (shape " + shape_text(t.shape) + " of " +
                                 t.dtype + "), got " + std::to_string(declared));
  return t;
}

// The .bin file of a tensor that parse_bundle_json() accepted: its size is checked first.
std::vector<std::byte> tensor_data(const fs::path& path, const BundleTensor& t) {
  const uint64_t bytes = *bundle_tensor_bytes(t.shape, t.dtype);
  const std::string expected =
      "expected " + std::to_string(bytes) + " (shape " + shape_text(t.shape) + " of " + t.dtype + ")";
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw UsageError(path.string() + ": not a readable file, " + expected);
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) throw UsageError(path.string() + ": cannot read: " + ec.message());
  if (size != bytes) throw UsageError(path.string() + ": " + std::to_string(size) + " bytes, " + expected);
  std::vector<std::byte> data(bytes);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(data.data()), std::streamsize(bytes));
  if (!in) throw UsageError(path.string() + ": cannot read " + std::to_string(bytes) + " bytes");
  return data;
}

std::string case_json_text(const fs::path& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (!ec && size > kMaxJsonBytes)
    throw UsageError(path.string() + ": " + std::to_string(size) + " bytes, expected at most " +
                     std::to_string(kMaxJsonBytes) + " (a bundle's case.json is small)");
  return csv::read_text_file(path);
}

}  // namespace

Bundle parse_bundle_json(std::string_view text, std::string_view file_name) {
  const JsonDocument doc(text, std::string(file_name), {kKeys, kMaxDepth});
  const json& root = doc.expect(doc.root(), "", json::value_t::object);
  doc.only_keys(root, "", kBundleKeys);
  const auto text_of = [&](std::string_view key) { return string_member(doc, root, "", key); };
  if (const std::string format = text_of("format"); format != kFormat)
    doc.fail("format", "expected " + json_string(kFormat) + ", got " + json_string(format));
  const std::string verdict_text = text_of("verdict");
  const auto verdict = parse_verdict(verdict_text);
  if (!verdict)
    doc.fail("verdict", "expected " + verdict_names() + ", got " + json_string(verdict_text));
  Bundle b{text_of("case_id"), text_of("suite_version"), text_of("commit"), text_of("arch"), text_of("backend"),
           *verdict, text_of("message"), {}, {}};
  const json& first_bad = doc.member(root, "", "first_bad", json::value_t::array);
  for (size_t i = 0; i < first_bad.size(); ++i)
    b.first_bad.push_back(doc.expect(first_bad[i], JsonDocument::element_path("first_bad", i), json::value_t::string)
                              .get<std::string>());
  const json& tensors = doc.member(root, "", "tensors", json::value_t::array);
  std::set<std::string> names;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string path = JsonDocument::element_path("tensors", i);
    b.tensors.push_back(tensor_entry(doc, tensors[i], path));
    if (!names.insert(b.tensors.back().name).second)
      doc.fail(JsonDocument::member_path(path, "name"), "expected a name no other tensor has, got " +
                                                            json_string(b.tensors.back().name));
  }
  return b;
}

Bundle read_bundle(const std::filesystem::path& dir) {
  const fs::path json_path = dir / "case.json";
  Bundle b = parse_bundle_json(case_json_text(json_path), json_path.string());
  for (BundleTensor& t : b.tensors) t.data = tensor_data(dir / (t.name + ".bin"), t);
  return b;
}

}  // namespace ulpgate
