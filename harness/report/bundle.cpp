#include "harness/report/bundle.hpp"

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <set>
#include <stdexcept>
#include <system_error>

#include "reference/formats/formats.hpp"

namespace ulpgate {

namespace {

void check_tensor(const BundleTensor& t) {
  const bool name_ok = !t.name.empty() && t.name.find_first_not_of(
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == std::string::npos;
  if (!name_ok || t.name.front() == '.')
    throw std::invalid_argument("bundle tensor name '" + t.name + "' is not a plain file stem");
  const size_t size = bundle_dtype_size(t.dtype);
  if (size == 0) throw std::invalid_argument("bundle tensor " + t.name + ": unknown dtype '" + t.dtype + "'");
  uint64_t elements = 1;
  for (int64_t d : t.shape) {
    if (d < 0) throw std::invalid_argument("bundle tensor " + t.name + ": negative dimension");
    elements *= uint64_t(d);
  }
  if (elements * size != t.data.size())
    throw std::invalid_argument("bundle tensor " + t.name + ": " + std::to_string(t.data.size()) +
                                " bytes do not hold " + std::to_string(elements) + " " + t.dtype);
}

std::string json_list(const std::vector<std::string>& items, std::string_view indent) {
  if (items.empty()) return "[]";
  std::string s = "[\n";
  for (size_t i = 0; i < items.size(); ++i)
    s += std::string(indent) + "  " + items[i] + (i + 1 < items.size() ? ",\n" : "\n");
  return s + std::string(indent) + "]";
}

std::string tensor_json(const BundleTensor& t) {
  std::string shape = "[";
  for (size_t i = 0; i < t.shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape[i]);
  shape += "]";
  return "{\"name\": " + json_string(t.name) + ", \"role\": " + json_string(t.role) +
         ", \"dtype\": " + json_string(t.dtype) + ", \"shape\": " + shape +
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

}  // namespace ulpgate
