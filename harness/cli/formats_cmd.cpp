// `ulpgate formats verify|table`, `ulpgate convert`, `ulpgate decode`: the formats core on the
// command line, and its conformance against the independent oracles.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "harness/cli/command.hpp"
#include "reference/formats/formats.hpp"
#include "reference/formats/oracles/sweep.hpp"

namespace ulpgate::cli {
namespace {

namespace orc = ulpgate::oracles;

// ---- parsing values and codes ----------------------------------------------------------------

bool is_hex_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
}

// A VALUE for `convert`. Rule: "0x" followed by 1-8 hex digits and nothing else (no '.', no 'p'
// exponent, no sign) is an fp32 bit pattern (0x3f800000 = 1.0); anything else is a number for
// strtod: decimal (1.0625, 1e-3, inf, nan) or hex-float, which always has a 'p' exponent
// (0x1.8p+3 = 12). A number that is an fp32 value is converted as fp32; any other double is
// converted from fp64 directly (never rounded through fp32 first).
struct ParsedValue {
  orc::Source source;
  uint64_t bits;
};

ParsedValue parse_value(const std::string& text) {
  const std::string_view t = text;
  if (t.size() > 2 && (t.substr(0, 2) == "0x" || t.substr(0, 2) == "0X") && is_hex_digits(t.substr(2))) {
    if (t.size() > 10)
      throw UsageError("value '" + text + "': a 0x bit pattern is an fp32 pattern of at most 8 hex digits "
                       "(for a hex-float write the exponent, e.g. 0x1.8p+3)");
    return {orc::Source::fp32, std::stoull(text, nullptr, 16)};
  }
  char* end = nullptr;
  const double x = std::strtod(text.c_str(), &end);  // out of range: ±Inf or the rounded tiny value
  if (text.empty() || end != text.c_str() + text.size())
    throw UsageError("cannot parse value '" + text +
                     "' (valid: decimal like 1.0625 or -3e-5, hex-float like 0x1.8p+3, inf, nan, or an fp32 "
                     "bit pattern like 0x3f800000)");
  const float f = float(x);
  if (double(f) == x || std::isnan(x)) return {orc::Source::fp32, std::bit_cast<uint32_t>(f)};
  return {orc::Source::fp64, std::bit_cast<uint64_t>(x)};
}

uint32_t parse_code(const std::string& text, Format f) {
  const FormatInfo fi = info(f);
  std::string_view digits = text;
  int base = 10;
  if (digits.size() > 2 && (digits.substr(0, 2) == "0x" || digits.substr(0, 2) == "0X")) base = 16;
  if (digits.size() > 2 && (digits.substr(0, 2) == "0b" || digits.substr(0, 2) == "0B")) base = 2;
  if (base != 10) digits.remove_prefix(2);
  const std::string valid = base == 16 ? "0123456789abcdefABCDEF" : base == 2 ? "01" : "0123456789";
  if (digits.empty() || digits.find_first_not_of(valid) != std::string_view::npos || digits.size() > 40)
    throw UsageError("cannot parse code '" + text + "' (valid: hex 0x7e, binary 0b01111110 or decimal 126)");
  const uint64_t code = std::stoull(std::string(digits), nullptr, base);
  if (code >> fi.bits)
    throw UsageError("code '" + text + "' does not fit in " + std::to_string(fi.bits) + "-bit " +
                     std::string(format_name(f)));
  return uint32_t(code);
}

// ---- printing ----------------------------------------------------------------------------------

// glibc prints a double's exact decimal expansion when asked for enough digits; %g drops the
// trailing zeros.
std::string exact_decimal(double x) {
  std::vector<char> buf(1200);
  std::snprintf(buf.data(), buf.size(), "%.1100g", x);
  return buf.data();
}

// v as "0x" and exactly `digits` hex digits (the width of the format).
std::string hex(uint64_t v, int digits) {
  std::string s = "0x";
  for (int i = digits - 1; i >= 0; --i) s += "0123456789abcdef"[(v >> (4 * i)) & 0xF];
  return s;
}

std::string hexfloat(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", x);
  return buf;
}

std::string bits_string(uint32_t v, int n) {
  std::string s;
  for (int i = n - 1; i >= 0; --i) s += char('0' + ((v >> i) & 1));
  return s;
}

// ---- convert ---------------------------------------------------------------------------------

void print_conversion(const std::string& text, const Conversion& c) {
  const ParsedValue v = parse_value(text);
  const double x = orc::source_value(v.source, v.bits);
  const Explanation e = explain(x, c);
  const int width = info(c.format).bits / 4;
  std::printf("%s\n", text.c_str());
  std::printf("  input   %s %s\n", std::string(orc::source_name(v.source)).c_str(),
              hex(v.bits, v.source == orc::Source::fp64 ? 16 : 8).c_str());
  std::printf("  exact   %s = %s\n", exact_decimal(x).c_str(), hexfloat(x).c_str());
  std::printf("  output  %s %s = %s = %s (%s)\n", c.str().c_str(), hex(e.code, width).c_str(),
              exact_decimal(e.decoded).c_str(), hexfloat(e.decoded).c_str(), std::string(class_name(classify(c.format, e.code))).c_str());
  std::printf("  why     %s\n", e.why.c_str());
}

// ---- decode ----------------------------------------------------------------------------------

void print_decoded(Format f, const std::string& text) {
  const FormatInfo fi = info(f);
  const uint32_t code = parse_code(text, f);
  const double v = decode(f, code);
  const uint32_t mantissa = code & ((1u << fi.mbits) - 1);
  const uint32_t exponent = (code >> fi.mbits) & ((1u << fi.ebits) - 1);
  const std::string sign = fi.is_signed ? std::to_string(code >> (fi.bits - 1)) : "- (unsigned)";
  std::printf("%s %s: %s = %s (%s)\n", std::string(format_name(f)).c_str(), hex(code, fi.bits / 4).c_str(),
              std::isnan(v) ? "NaN" : exact_decimal(v).c_str(), hexfloat(v).c_str(), std::string(class_name(classify(f, code))).c_str());
  std::printf("  sign %s  exponent %s (field %u, bias %d)  mantissa %s\n", sign.c_str(),
              bits_string(exponent, fi.ebits).c_str(), exponent, fi.bias,
              fi.mbits ? bits_string(mantissa, fi.mbits).c_str() : "(none)");
}

// ---- formats table ---------------------------------------------------------------------------

void write_table(const std::string& from, const std::string& to, const std::string& path) {
  if (from != "bf16" && from != "fp16")
    throw UsageError("unknown --from '" + from + "' (valid: bf16, fp16)");
  const Conversion c = Conversion::parse(to);
  if (info(c.format).bits != 8)
    throw UsageError("--to '" + to + "': the table holds one byte per input, so the format must be one of "
                     "e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, ue8m0");
  std::string bytes(65536, '\0');
  for (uint32_t b = 0; b < 65536; ++b) {
    const float x = from == "bf16" ? bf16_to_float(uint16_t(b)) : fp16_to_float(uint16_t(b));
    bytes[b] = char(encode(x, c));
  }
  std::ofstream out(path, std::ios::binary);
  if (out) out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) throw UsageError("cannot write '" + path + "': " + std::strerror(errno));
}

// ---- formats verify --------------------------------------------------------------------------

struct VerifyOptions {
  bool exhaustive = false;
  std::string format, policy;
  uint64_t random_inputs = uint64_t(1) << 24;
};

// One table row: a format x policy, summed over its roundings, edge flags and input sets.
struct Row {
  Format format;
  Overflow policy;
  uint64_t inputs = 0;
  std::map<std::string, orc::OracleTally> tallies;
  double seconds = 0;
  void add(const orc::SweepResult& r) {
    inputs += r.inputs;
    seconds += r.seconds;
    for (const orc::OracleTally& t : r.tallies) {
      orc::OracleTally& into = tallies.try_emplace(t.oracle, orc::OracleTally{t.oracle, 0, 0, 0, {}}).first->second;
      into.checked += t.checked;
      into.mismatches += t.mismatches;
      into.pinned += t.pinned;
    }
  }
};

std::vector<std::string> oracle_columns() {
  std::vector<std::string> names;
  for (const orc::Oracle& o : orc::available_oracles()) names.emplace_back(o.name);
  return names;
}

void print_header(const std::vector<std::string>& oracles) {
  std::printf("%-9s %-16s %14s", "format", "policy", "inputs");
  for (const std::string& o : oracles) std::printf(" %20s", ("mismatch " + o).c_str());
  std::printf(" %9s %14s\n", "time s", "conversions/s");
}

void print_row(const Row& r, const std::vector<std::string>& oracles) {
  std::printf("%-9s %-16s %14llu", std::string(format_name(r.format)).c_str(),
              std::string(overflow_name(r.policy)).c_str(), (unsigned long long)r.inputs);
  for (const std::string& o : oracles) {
    const auto it = r.tallies.find(o);
    std::string cell = "-";
    if (it != r.tallies.end()) {
      cell = std::to_string(it->second.mismatches) + "/" + std::to_string(it->second.checked);
      if (it->second.pinned) cell += " +" + std::to_string(it->second.pinned) + "p";
    }
    std::printf(" %20s", cell.c_str());
  }
  std::printf(" %9.2f %14.3g\n", r.seconds, r.seconds > 0 ? double(r.inputs) / r.seconds : 0.0);
  std::fflush(stdout);
}

void print_mismatches(const orc::SweepResult& r) {
  for (const orc::OracleTally& t : r.tallies)
    for (const orc::Mismatch& m : t.first) std::printf("  MISMATCH %s\n", orc::describe(r.conversion, t.oracle, m).c_str());
}

double cpu_seconds(std::clock_t since) { return double(std::clock() - since) / CLOCKS_PER_SEC; }

// The core's fast path alone over all 2^32 fp32 inputs: wall time, and CPU time per conversion
// (what the 2-core target of 10 s, about 4.7 ns per conversion per core, is stated in).
void benchmark_fast_path(const Conversion& c) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t cpu0 = std::clock();
  const uint64_t checksum = orc::convert_fp32_range(c, 0, uint64_t(1) << 32);
  const double cpu = cpu_seconds(cpu0);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  fast path alone, %s: 2^32 conversions in %.2f s = %.3g conversions/s; %.2f ns of CPU per "
              "conversion (checksum %llx)\n",
              c.str().c_str(), s, 4294967296.0 / s, 1e9 * cpu / 4294967296.0, (unsigned long long)checksum);
}

// The fastest oracle that defines the mode: (a) where it exists, else (c) in double.
orc::Oracle fastest_oracle(const Conversion& c) {
  if (orc::have_cuda_oracle() && orc::cuda_oracle().defines(c)) return orc::cuda_oracle();
  return orc::value_oracle();
}

int verify(const VerifyOptions& opt) {
  const bool one_format = !opt.format.empty();
  const Format format = one_format ? parse_format(opt.format) : Format::e4m3fn;
  if (one_format && info(format).bits != 8)
    throw UsageError("--format '" + opt.format + "': verify covers e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, ue8m0");
  const bool one_policy = !opt.policy.empty();
  const Overflow policy = one_policy ? Conversion::parse("e4m3fn:" + opt.policy).overflow : Overflow::satfinite;
  std::vector<orc::Inputs> sets;
  if (!opt.exhaustive) {
    sets = {orc::all_bf16(), orc::all_fp16(), orc::fp32_structured(), orc::fp32_boundaries(4),
            orc::fp64_boundaries(4)};
  }
  const orc::Inputs random = orc::fp32_random(opt.exhaustive ? 0 : opt.random_inputs);
  const std::vector<Conversion> production = orc::production_conversions();
  const std::vector<std::string> columns = oracle_columns();
  std::printf("formats verify: %s\n", opt.exhaustive ? "all 2^32 fp32 inputs per mode, vs oracle (a) or (c)"
                                                     : "bf16/fp16 exhaustive, fp32 structured/boundaries/random, "
                                                       "fp64 boundaries");
  if (!orc::have_cuda_oracle()) std::printf("note: %s\n", orc::cuda_oracle_absent_reason());
  if (!orc::have_llvm_oracle()) std::printf("note: %s\n", orc::llvm_oracle_absent_reason());
  print_header(columns);
  uint64_t mismatches = 0;
  for (Format f : kEightBitFormats) {
    if (one_format && f != format) continue;
    for (Overflow o : {Overflow::satfinite, Overflow::nosat, Overflow::clamp_first, Overflow::clamp_first_nan,
                       Overflow::hip_host, Overflow::hip_host_nosat}) {
      if (one_policy && o != policy) continue;
      Row row{f, o, 0, {}, 0};
      const std::clock_t cpu0 = std::clock();
      const auto modes =
          orc::select(opt.exhaustive ? orc::production_conversions() : orc::all_conversions(), f, std::optional(o));
      for (const Conversion& c : modes) {
        std::vector<orc::SweepResult> results;
        if (opt.exhaustive) {
          results.push_back(orc::sweep_fp32_range(c, 0, uint64_t(1) << 32, fastest_oracle(c)));
        } else {
          for (const orc::Inputs& in : sets) results.push_back(orc::sweep(c, in, orc::available_oracles()));
          if (std::find(production.begin(), production.end(), c) != production.end())  // random: the real modes
            results.push_back(orc::sweep(c, random, orc::available_oracles()));
        }
        for (const orc::SweepResult& r : results) {
          row.add(r);
          mismatches += r.mismatches();
          print_mismatches(r);
        }
      }
      print_row(row, columns);
      if (opt.exhaustive) {
        std::printf("  verification: %.1f ns of CPU per input (%s)\n", 1e9 * cpu_seconds(cpu0) / double(row.inputs),
                    "core + oracle, summed over threads");
        benchmark_fast_path(modes.front());
      }
    }
  }
  std::printf("%s: %llu mismatches\n", mismatches ? "FAIL" : "PASS", (unsigned long long)mismatches);
  return mismatches ? kFail : kPass;
}

}  // namespace

void add_formats_commands(CLI::App& app, int& rc) {
  static VerifyOptions verify_opt;
  static std::string table_from, table_to, table_out, convert_to, decode_format;
  static std::vector<std::string> values, codes;

  auto* formats = app.add_subcommand("formats", "number-format conformance and tables");
  formats->require_subcommand(1);

  auto* verify_cmd = formats->add_subcommand("verify", "check the formats core against the independent oracles");
  verify_cmd->add_flag("--exhaustive", verify_opt.exhaustive, "all 2^32 fp32 inputs per mode");
  verify_cmd->add_option("--format", verify_opt.format, "only this 8-bit format");
  verify_cmd->add_option("--policy", verify_opt.policy, "only this overflow policy");
  verify_cmd->add_option("--random", verify_opt.random_inputs, "random fp32 inputs per mode (default 2^24)");
  verify_cmd->callback([&] { rc = verify(verify_opt); });

  auto* table = formats->add_subcommand("table", "write the 65,536 output bytes of a conversion in input-bit order");
  table->add_option("--from", table_from, "bf16 or fp16")->required();
  table->add_option("--to", table_to, "FORMAT[:policy[:rounding[:flags]]]")->required();
  table->add_option("--out", table_out, "output file")->required();
  table->callback([&] {
    write_table(table_from, table_to, table_out);
    rc = kPass;
  });

  auto* convert = app.add_subcommand("convert", "explain conversions: input bits, exact value, output code, why");
  convert->add_option("--to", convert_to, "FORMAT[:policy[:rounding[:flags]]]")->required();
  convert->add_option("values", values,
                      "decimal, hex-float (0x1.8p+3: has a 'p' exponent) or an fp32 bit pattern (0x3f800000: "
                      "0x and at most 8 hex digits, nothing else)")
      ->required();
  convert->callback([&] {
    const Conversion c = Conversion::parse(convert_to);
    for (const std::string& v : values) print_conversion(v, c);
    rc = kPass;
  });

  auto* decode_cmd = app.add_subcommand("decode", "explain codes: value, class, bit fields");
  decode_cmd->add_option("format", decode_format, "format name")->required();
  decode_cmd->add_option("codes", codes, "codes: 0x7e, 0b01111110 or 126")->required();
  decode_cmd->callback([&] {
    const Format f = parse_format(decode_format);
    for (const std::string& c : codes) print_decoded(f, c);
    rc = kPass;
  });
}

}  // namespace ulpgate::cli
