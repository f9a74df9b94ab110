#include "reference/formats/oracles/sweep.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "reference/formats/oracles/value_oracle.hpp"

namespace ulpgate::oracles {
namespace {

constexpr Overflow kPolicies[] = {Overflow::satfinite,       Overflow::nosat,    Overflow::clamp_first,
                                  Overflow::clamp_first_nan, Overflow::hip_host, Overflow::hip_host_nosat};
constexpr Rounding kRoundings[] = {Rounding::rne, Rounding::rz, Rounding::rp, Rounding::rm, Rounding::rn};

std::vector<E8m0Edges> edge_variants() {
  E8m0Edges zero_nan, neg_nan, clamp, all;
  zero_nan.zero_is_nan = true;
  neg_nan.negative_is_nan = true;
  clamp.min_code = 1;
  all = {true, true, 1, 254};
  return {E8m0Edges{}, zero_nan, neg_nan, clamp, all};
}

unsigned thread_count(unsigned requested) {
  if (requested) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

// Runs body(begin, end) over [0, n) in blocks handed out to `threads` workers.
template <class Body>
void parallel_blocks(uint64_t n, unsigned threads, Body body) {
  const uint64_t block = std::max<uint64_t>(1, std::min<uint64_t>(1u << 20, n / (8 * threads) + 1));
  std::atomic<uint64_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (uint64_t b; (b = next.fetch_add(block)) < n;) body(b, std::min(n, b + block));
    });
  for (auto& th : pool) th.join();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Merges a worker's tally into the shared one.
void merge(OracleTally& into, const OracleTally& from, std::mutex& mu) {
  std::lock_guard lock(mu);
  into.checked += from.checked;
  into.mismatches += from.mismatches;
  into.pinned += from.pinned;
  for (const Mismatch& m : from.first)
    if (into.first.size() < kKeptMismatches) into.first.push_back(m);
}

void record(OracleTally& t, const Conversion& c, Source s, uint64_t bits, uint32_t core, uint32_t oracle) {
  ++t.checked;
  if (same_result(c.format, core, oracle)) return;
  if (pinned_difference(t.oracle, s, bits, c, core, oracle)) {
    ++t.pinned;
    return;
  }
  ++t.mismatches;
  if (t.first.size() < kKeptMismatches) t.first.push_back({s, bits, core, oracle});
}

uint64_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
uint64_t double_bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

// Grid values and the midpoints between neighbours (including max and the step beyond).
std::vector<double> boundary_points() {
  std::vector<double> points;
  for (Format f : kEightBitFormats) {
    const ValueOracle<double> oracle(f);
    const std::vector<double>& g = oracle.grid();
    for (size_t i = 0; i < g.size(); ++i) {
      points.push_back(g[i]);
      if (i + 1 < g.size()) points.push_back((g[i] + g[i + 1]) / 2);  // exact: <= 6 significant bits
    }
  }
  return points;
}

void sort_unique(std::vector<uint64_t>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

std::vector<Conversion> all_conversions() {
  std::vector<Conversion> modes;
  for (Format f : kEightBitFormats)
    for (Overflow o : kPolicies)
      for (Rounding r : kRoundings) {
        if (f != Format::ue8m0) {
          modes.push_back({f, o, r, {}});
          continue;
        }
        for (const E8m0Edges& e : edge_variants()) modes.push_back({f, o, r, e});
      }
  return modes;
}

std::vector<Conversion> production_conversions() {
  std::vector<Conversion> modes;
  for (Format f : kEightBitFormats)
    for (Overflow o : kPolicies) {
      if (f != Format::ue8m0) modes.push_back({f, o, Rounding::rne, {}});
      else
        for (Rounding r : {Rounding::rz, Rounding::rp, Rounding::rn}) modes.push_back({f, o, r, {}});
    }
  return modes;
}

std::vector<Conversion> select(const std::vector<Conversion>& modes, std::optional<Format> format,
                               std::optional<Overflow> policy) {
  std::vector<Conversion> out;
  for (const Conversion& c : modes)
    if ((!format || c.format == *format) && (!policy || c.overflow == *policy)) out.push_back(c);
  return out;
}

Inputs all_bf16() {
  Inputs in{"bf16 all 65536", Source::bf16, {}};
  for (uint64_t b = 0; b < 65536; ++b) in.bits.push_back(b);
  return in;
}

Inputs all_fp16() {
  Inputs in = all_bf16();
  in.name = "fp16 all 65536";
  in.source = Source::fp16;
  return in;
}

Inputs fp32_structured() {
  Inputs in{"fp32 structured", Source::fp32, {}};
  const uint32_t ones = (1u << 23) - 1;
  std::vector<uint32_t> significands = {0, ones};
  for (int k = 0; k < 23; ++k) {
    significands.push_back(1u << k);
    significands.push_back(ones ^ (1u << k));
  }
  for (uint64_t sign = 0; sign < 2; ++sign)
    for (uint64_t e = 0; e < 256; ++e)
      for (uint32_t m : significands) in.bits.push_back(sign << 31 | e << 23 | m);
  sort_unique(in.bits);
  return in;
}

Inputs fp32_boundaries(int ulps) {
  Inputs in{"fp32 boundaries +-" + std::to_string(ulps) + " ulp", Source::fp32, {}};
  for (double p : boundary_points()) {
    const float f = float(p);
    if (double(f) != p || !std::isfinite(f)) continue;  // not an fp32 value (2^128)
    for (float s : {f, -f}) {
      float down = s, up = s;
      in.bits.push_back(float_bits(s));
      for (int k = 0; k < ulps; ++k) {
        down = std::nextafter(down, -INFINITY);
        up = std::nextafter(up, INFINITY);
        in.bits.push_back(float_bits(down));
        in.bits.push_back(float_bits(up));
      }
    }
  }
  sort_unique(in.bits);
  return in;
}

Inputs fp64_boundaries(int ulps) {
  Inputs in{"fp64 boundaries +-" + std::to_string(ulps) + " ulp (fp64 and fp32 steps)", Source::fp64, {}};
  for (double p : boundary_points())
    for (double s : {p, -p}) {
      in.bits.push_back(double_bits(s));
      double down = s, up = s;
      float fdown = float(s), fup = float(s);
      for (int k = 0; k < ulps; ++k) {
        down = std::nextafter(down, -INFINITY);
        up = std::nextafter(up, INFINITY);
        fdown = std::nextafter(fdown, -INFINITY);
        fup = std::nextafter(fup, INFINITY);
        for (double v : {down, up, double(fdown), double(fup)}) in.bits.push_back(double_bits(v));
      }
    }
  sort_unique(in.bits);
  return in;
}

Inputs fp32_random(uint64_t count, uint64_t seed) {
  Inputs in{"fp32 random " + std::to_string(count), Source::fp32, {}};
  in.bits.reserve(count);
  uint64_t state = seed;
  for (uint64_t i = 0; i < count; ++i) {  // splitmix64: fixed, portable bits
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    in.bits.push_back((z ^ (z >> 31)) & 0xffffffffu);
  }
  return in;
}

uint64_t SweepResult::mismatches() const {
  uint64_t n = 0;
  for (const OracleTally& t : tallies) n += t.mismatches;
  return n;
}

const char* pinned_difference(std::string_view oracle, Source s, uint64_t bits, const Conversion& c,
                              uint32_t core, uint32_t oracle_code) {
  // CUDA's __nv_cvt_double_to_e8m0 first narrows to fp32 with a sticky bit, so a double
  // >= 2^128 becomes FLT_MAX and rz gives 0xFE even under __NV_NOSAT; the spec's rule (round
  // on the grid extended past max, then the policy) gives NaN.
  const double x = source_value(s, bits);
  if (oracle == "cuda" && s == Source::fp64 && c.format == Format::ue8m0 && c.rounding == Rounding::rz &&
      c.overflow == Overflow::nosat && std::isfinite(x) && std::fabs(x) >= 0x1p128 && core == 0xFF &&
      oracle_code == 0xFE)
    return "OracleDifferences.CudaDoubleToUe8m0RzNosatDoesNotOverflow";
  return nullptr;
}

bool same_result(Format f, uint32_t a, uint32_t b) {
  return a == b || (is_nan(f, a) && is_nan(f, b));
}

SweepResult sweep(const Conversion& c, const Inputs& in, const std::vector<Oracle>& oracles,
                  unsigned threads) {
  const auto t0 = std::chrono::steady_clock::now();
  SweepResult r{c, in.name, in.bits.size(), {}, 0};
  std::vector<const Oracle*> used;
  for (const Oracle& o : oracles)
    if (o.defines(c)) {
      used.push_back(&o);
      r.tallies.push_back({std::string(o.name), 0, 0, 0, {}});
    }
  std::mutex mu;
  const std::vector<OracleTally> blank = r.tallies;  // names, zero counts
  parallel_blocks(in.bits.size(), thread_count(threads), [&](uint64_t b, uint64_t e) {
    std::vector<OracleTally> local = blank;
    for (uint64_t i = b; i < e; ++i) {
      const uint32_t core = core_convert(in.source, in.bits[i], c);
      for (size_t k = 0; k < used.size(); ++k)
        record(local[k], c, in.source, in.bits[i], core, used[k]->convert(in.source, in.bits[i], c));
    }
    for (size_t k = 0; k < used.size(); ++k) merge(r.tallies[k], local[k], mu);
  });
  r.seconds = seconds_since(t0);
  return r;
}

SweepResult sweep_fp32_range(const Conversion& c, uint64_t begin, uint64_t end, const Oracle& oracle,
                             unsigned threads) {
  const auto t0 = std::chrono::steady_clock::now();
  SweepResult r{c, "fp32 all", end - begin, {{std::string(oracle.name), 0, 0, 0, {}}}, 0};
  std::mutex mu;
  dispatch(c.format, [&](auto fmt) {
    constexpr Format F = decltype(fmt)::value;
    parallel_blocks(end - begin, thread_count(threads), [&](uint64_t b, uint64_t e) {
      OracleTally local{std::string(oracle.name), 0, 0, 0, {}};
      for (uint64_t i = begin + b; i < begin + e; ++i) {
        float x;
        const uint32_t u = uint32_t(i);
        std::memcpy(&x, &u, sizeof x);
        record(local, c, Source::fp32, i, encode<F>(x, c), oracle.convert(Source::fp32, i, c));
      }
      merge(r.tallies[0], local, mu);
    });
  });
  r.seconds = seconds_since(t0);
  return r;
}

uint64_t convert_fp32_range(const Conversion& c, uint64_t begin, uint64_t end, unsigned threads) {
  std::atomic<uint64_t> checksum{0};
  dispatch(c.format, [&](auto fmt) {
    constexpr Format F = decltype(fmt)::value;
    parallel_blocks(end - begin, thread_count(threads), [&](uint64_t b, uint64_t e) {
      uint64_t sum = 0;
      for (uint64_t i = begin + b; i < begin + e; ++i) {
        float x;
        const uint32_t u = uint32_t(i);
        std::memcpy(&x, &u, sizeof x);
        sum += encode<F>(x, c);
      }
      checksum += sum;
    });
  });
  return checksum;
}

std::string describe(const Conversion& c, const std::string& oracle, const Mismatch& m) {
  char value[64];
  if (m.source == Source::fp64)
    std::snprintf(value, sizeof value, "%a", source_value(m.source, m.bits));
  else
    std::snprintf(value, sizeof value, "0x%08llx", (unsigned long long)float_bits(float(source_value(m.source, m.bits))));
  char line[256];
  std::snprintf(line, sizeof line, "%s %s 0x%llx: core 0x%02x, %s 0x%02x; replay: ulpgate convert --to %s %s",
                c.str().c_str(), std::string(source_name(m.source)).c_str(), (unsigned long long)m.bits,
                m.core, oracle.c_str(), m.oracle, c.str().c_str(), value);
  return line;
}

}  // namespace ulpgate::oracles
