// The comparator and diagnosis, proven with a test-only backend that returns the profile-exact
// result with one controlled fault: each known bug of spec/known-bugs.md must get its verdict.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "harness/quant/budget.hpp"
#include "harness/quant/catalog.hpp"
#include "harness/quant/run_case.hpp"

using namespace ulpgate;
using namespace ulpgate::quant;

namespace {

enum class Fault {
  none,
  flip_one_code,       // one code off by one
  wrong_way_tie,       // the first exact tie rounded away from even
  unmasked_packing,    // R2: unrounded fp32 scale bits shifted into the word without masking
  padding_unwritten,   // R3
  fp32_as_ue8m0,       // R4: unrounded fp32 scales where the consumer expects powers of two
  no_requantize,       // R5: scale rounded to pow2 after quantizing with the unrounded scale
  log2_pow2,           // R6: exp2(ceil(log2 s)) instead of exponent bits
  zero_group_no_floor, // R7: scale = amax / max with no floor: 0/0
  crash_on_empty,      // R8: M = 0 not guarded
  unclamped_cast,      // R9: no clamp, non-saturating cast, a static scale too small
  max_240_for_224,     // R11
  transposed_scales,   // R13: col written where row is read
  approx_division,     // R16: quotients off by up to 2 fp32 ulps
  bf16_double_round,   // R20
  fnuz_as_ocp,         // R10: codes encoded as the other fp8 format
  fp32_into_packed,    // R1: fp32 row scales written into a packed-ue8m0 buffer
  nan_injected,
  reversed_words,      // ue8m0 bytes packed into each int32 word in reversed (big-endian) order
  doubled_codes,       // codes of 2x / s with the scales right: a reciprocal's exponent off by one
  sglang_arithmetic,   // the whole output computed by the sglang profile
  amax_floor_1e4,      // DeepGEMM's amax floor 1e-4 in another profile
  no_clamp,            // no clamp before a satfinite cast: NaN reaches the cast
  rz_cast,             // codes cast with round toward zero
  ties_away_cast,      // codes cast rounding ties away from zero
  ue8m0_round_down,    // ue8m0 scales rounded down, the codes quantized with them
  floor_on_scale,      // the amax floor applied to the scale, the codes quantized with it
  half_group_amax,     // R12: each group's amax over its first half only, codes and scale alike
  last_group_unwritten,  // the last group's codes and scale never written
  scales_shifted,      // each scale one slot on, the first slot never written
  scales_swapped,      // the first two scales swapped
  mx_nan_block_zeros,  // MX blocks with a NaN (0xFF) scale written with zero codes: don't-care
  mx_ceil_rule,        // MX scales by 2^ceil(log2(amax / max)) (sglang's mxfp8 Triton kernel)
  mx_even_rule,        // MX scales by torchao's EVEN rounding
  mx_rn_rule,          // MX scales rounded to the nearest power of two
  zero_group_nan_clamped,  // R7 where the clamp propagates NaN (Triton's tl.clamp): vllm-triton, no floor
  mx_amax_floor,       // MX amax floored at 1e-30 before the scale (sglang's to_mxfp8): zero blocks get 2^-108
};

Profile patched(const Spec& s, Fault f) {
  Profile p = *s.profile;
  if (f == Fault::log2_pow2) p.pow2 = Pow2Rule::exp2_ceil_log2;
  if (f == Fault::zero_group_no_floor) {  // torchao: no floor, and no clamp that hides 0/0
    p.amax_floor = p.scale_floor = 0;
    p.nan = NanPolicy::propagate;
  }
  if (f == Fault::zero_group_nan_clamped) p.amax_floor = 0, p.nan = NanPolicy::propagate;
  if (f == Fault::mx_ceil_rule) p.mx = MxRule::ceil;
  if (f == Fault::mx_even_rule) p.mx = MxRule::even;
  if (f == Fault::mx_rn_rule) p.mx = MxRule::rn;
  if (f == Fault::mx_amax_floor) p.amax_floor = 1e-30f;
  if (f == Fault::max_240_for_224) p.max_fnuz = 240;
  if (f == Fault::amax_floor_1e4) p.amax_floor = 1e-4f;
  if (f == Fault::no_clamp) p.clamp = false;
  return p;
}

// Codes recomputed element by element from given scales, with q transformed before the cast
// (rounded as `rounding` says).
template <class Q>
void requantize(const Spec& s, std::span<const float> x, std::span<const float> scales, std::span<uint8_t> codes, Q q_of,
                Rounding rounding = Rounding::rne) {
  const int64_t g = s.scale_shape().g;
  const float max = s.fp8_max();
  for (int64_t r = 0; r < s.m; ++r)
    for (int64_t c = 0; c < s.k; ++c) {
      const size_t i = size_t(r * s.k + c);
      float q = q_of(x[i], scales[size_t((r / s.tile_rows()) * g + c / s.tile_cols())], i);
      if (s.profile->clamp) q = std::fmin(std::fmax(q, -max), max);
      codes[i] = uint8_t(encode(q, Conversion{s.format, s.profile->cast, rounding}));
    }
}

class FaultBackend : public Backend {
 public:
  explicit FaultBackend(Fault f) : fault_(f) {}
  std::string name() const override { return "fault@test"; }

  void quant(const Spec& spec, Format input, std::span<const std::byte>, std::span<uint8_t> codes,
             std::span<uint8_t> scales) override {
    (void)input;
    if (fault_ == Fault::crash_on_empty && spec.m == 0) throw BackendError("division by zero: num_groups = 0");
    const Profile p = patched(spec, fault_);
    Spec s = spec;
    s.profile = &p;
    const Result r = quantize_profile(s, x_);
    std::copy(r.codes.begin(), r.codes.end(), codes.begin());
    std::copy(r.storage.begin(), r.storage.end(), scales.begin());
    inject(spec, r, codes, scales);
  }

  std::vector<float> x_;  // the case's input values (the test sets them)

 private:
  void inject(const Spec& s, const Result& r, std::span<uint8_t> codes, std::span<uint8_t> scales) {
    const ScaleShape ss = s.scale_shape();
    Spec unrounded = s;
    unrounded.ue8m0 = false;
    unrounded.layout = Layout::row;
    switch (fault_) {
      case Fault::flip_one_code: codes[codes.size() / 2] ^= 1; break;
      case Fault::wrong_way_tie:
        for (size_t i = 0; i < codes.size(); ++i) {
          const float sc = r.scales[i / size_t(s.gs)];
          const double q = double(x_[i]) / sc;
          const uint32_t up = encode(q, Conversion{s.format, Overflow::satfinite, Rounding::rp});
          const uint32_t dn = encode(q, Conversion{s.format, Overflow::satfinite, Rounding::rz});
          if (up != dn && (decode(s.format, up) + decode(s.format, dn)) / 2 == q) {
            codes[i] = uint8_t(codes[i] == up ? dn : up);
            break;
          }
        }
        break;
      case Fault::unmasked_packing: {
        const Result raw = quantize_profile(unrounded, x_);
        std::fill(scales.begin(), scales.end(), 0);
        for (int64_t m = 0; m < ss.m; ++m)
          for (int64_t g = 0; g < ss.g; ++g) {
            const uint32_t bits = std::bit_cast<uint32_t>(raw.scales[size_t(m * ss.g + g)]);
            const int64_t word = byte_offset(Layout::ue8m0_packed, ss, m, g) / 4;
            uint32_t w;
            std::memcpy(&w, &scales[size_t(4 * word)], 4);
            const int shift = 23 - 8 * int(g % 4);  // exponent lands in its lane, mantissa spills below
            w |= shift >= 0 ? bits >> shift : bits << -shift;
            std::memcpy(&scales[size_t(4 * word)], &w, 4);
          }
        break;
      }
      case Fault::padding_unwritten:
        for (int64_t b = 0; b < int64_t(scales.size()); ++b)
          if (!scale_at(s.layout, ss, b)) scales[size_t(b)] = kPoison;
        break;
      case Fault::fp32_as_ue8m0: {
        const Result raw = quantize_profile(unrounded, x_);
        const auto bytes = pack(s.layout, ss, raw.scales);
        std::copy(bytes.begin(), bytes.end(), scales.begin());
        break;
      }
      case Fault::no_requantize: {
        const Result raw = quantize_profile(unrounded, x_);
        std::copy(raw.codes.begin(), raw.codes.end(), codes.begin());
        break;
      }
      case Fault::unclamped_cast:
        requantize(s, x_, r.scales, codes, [](float x, float sc, size_t) { return x / (sc / 2); });
        for (auto& c : codes)  // the non-saturating cast: anything at max came from >= 464
          if (c == 0x7E || c == 0xFE) c = 0x7F;
        break;
      case Fault::transposed_scales: {
        const auto bytes = pack(Layout::col, ss, r.scales);
        std::copy(bytes.begin(), bytes.end(), scales.begin());
        break;
      }
      case Fault::approx_division:
        requantize(s, x_, r.scales, codes, [](float x, float sc, size_t i) {
          const float q = x / sc;
          return i % 2 ? std::nextafter(q, INFINITY) : std::nextafter(std::nextafter(q, -INFINITY), -INFINITY);
        });
        break;
      case Fault::bf16_double_round:
        requantize(s, x_, r.scales, codes, [](float x, float sc, size_t) { return bf16_to_float(float_to_bf16(x / sc)); });
        break;
      case Fault::fnuz_as_ocp: {
        const Format other = s.format == Format::e4m3fn ? Format::e4m3fnuz : Format::e4m3fn;
        for (size_t i = 0; i < codes.size(); ++i) {
          const double v = decode(s.format, r.codes[i]);
          codes[i] = uint8_t(std::isnan(v) ? info(other).canonical_nan : encode(v, Conversion{other}));
        }
        break;
      }
      case Fault::fp32_into_packed: {
        const auto bytes = pack(Layout::row, ss, r.scales);
        std::fill(scales.begin(), scales.end(), 0);
        std::copy_n(bytes.begin(), std::min(bytes.size(), scales.size()), scales.begin());
        break;
      }
      case Fault::nan_injected: codes[3] = uint8_t(info(s.format).canonical_nan); break;
      case Fault::reversed_words:
        for (size_t w = 0; w + 4 <= scales.size(); w += 4) std::reverse(&scales[w], &scales[w] + 4);
        break;
      case Fault::doubled_codes:
        requantize(s, x_, r.scales, codes, [](float x, float sc, size_t) { return x / (sc / 2); });
        break;
      case Fault::sglang_arithmetic: {
        Spec other = s;
        other.profile = &profile("sglang");
        const Result o = quantize_profile(other, x_);
        std::copy(o.codes.begin(), o.codes.end(), codes.begin());
        std::copy(o.storage.begin(), o.storage.end(), scales.begin());
        break;
      }
      case Fault::rz_cast:
      case Fault::ties_away_cast:
        requantize(s, x_, r.scales, codes, [](float x, float sc, size_t) { return x / sc; },
                   fault_ == Fault::rz_cast ? Rounding::rz : Rounding::rn);
        break;
      case Fault::ue8m0_round_down: {
        std::vector<float> down = quantize_profile(unrounded, x_).scales;
        for (float& v : down) v = std::ldexp(1.0f, std::ilogb(v));  // the power of two at or below v
        rescale(s, down, codes, scales);
        break;
      }
      case Fault::floor_on_scale: {
        std::vector<float> floored = group_amax(s, x_);
        for (float& a : floored) a = std::fmax(a / s.fp8_max(), s.profile->amax_floor);
        rescale(s, floored, codes, scales);
        break;
      }
      case Fault::half_group_amax: {
        std::vector<float> half(r.scales.size());
        for (int64_t m = 0; m < s.m; ++m)
          for (int64_t g = 0; g < ss.g; ++g) {
            float a = 0;
            for (int64_t k = g * s.gs; k < g * s.gs + s.gs / 2; ++k) a = std::fmax(a, std::fabs(x_[size_t(m * s.k + k)]));
            half[size_t(m * ss.g + g)] = a;
          }
        for (int64_t m = 0; m < s.m; ++m)
          for (int64_t k = 0; k < s.k; ++k) {
            const float a = half[size_t(m * ss.g + k / s.gs)];
            codes[size_t(m * s.k + k)] = quantize_value(s, x_[size_t(m * s.k + k)], a, group_scale(s, a));
          }
        for (float& a : half) a = group_scale(s, a);
        const auto bytes = pack(s.layout, ss, half);
        std::copy(bytes.begin(), bytes.end(), scales.begin());
        break;
      }
      case Fault::last_group_unwritten: {
        std::fill(codes.end() - s.gs, codes.end(), kPoison);
        const int64_t at = byte_offset(s.layout, ss, ss.m - 1, ss.g - 1);
        std::fill_n(scales.begin() + at, slot_bytes(s.layout), kPoison);
        break;
      }
      case Fault::scales_shifted: {
        std::vector<float> moved(r.scales.size());
        std::copy(r.scales.begin(), r.scales.end() - 1, moved.begin() + 1);
        const auto bytes = pack(s.layout, ss, moved);
        std::copy(bytes.begin(), bytes.end(), scales.begin());
        std::fill_n(scales.begin() + byte_offset(s.layout, ss, 0, 0), slot_bytes(s.layout), kPoison);
        break;
      }
      case Fault::mx_nan_block_zeros:
        for (size_t i = 0; i < codes.size(); ++i)
          if (std::isnan(r.scales[size_t((int64_t(i) / s.k) * ss.g + (int64_t(i) % s.k) / s.gs)])) codes[i] = 0;
        break;
      case Fault::scales_swapped: {
        std::vector<float> swapped = r.scales;
        std::swap(swapped[0], swapped[1]);
        const auto bytes = pack(s.layout, ss, swapped);
        std::copy(bytes.begin(), bytes.end(), scales.begin());
        break;
      }
      default: break;
    }
  }
  // Scales of the fault's own computation, and the profile's codes for them.
  void rescale(const Spec& s, std::span<const float> sc, std::span<uint8_t> codes, std::span<uint8_t> scales) {
    const std::vector<float> amax = group_amax(s, x_);
    const int64_t g = s.scale_shape().g;
    for (int64_t m = 0; m < s.m; ++m)
      for (int64_t k = 0; k < s.k; ++k) {
        const size_t si = size_t(m * g + k / s.gs);
        codes[size_t(m * s.k + k)] = quantize_value(s, x_[size_t(m * s.k + k)], amax[si], sc[si]);
      }
    const auto bytes = pack(s.layout, s.scale_shape(), sc);
    std::copy(bytes.begin(), bytes.end(), scales.begin());
  }
  Fault fault_;
};

CaseResult run_with(Fault f, std::string_view id) {
  const Case c = Case::parse(id);
  FaultBackend b(f);
  b.x_ = c.inputs().values;
  return run_case(c, b).result;
}

constexpr std::string_view kRowCase = "quant.group/vllm/e4m3fn/bf16/8x512/gs128/row/normal_sigma=2/s1";
constexpr std::string_view kPackedCase = "quant.group/vllm/e4m3fn/bf16/7x640/gs128/ue8m0-packed/normal_sigma=2/s1";

}  // namespace

TEST(FaultInjection, CleanBackendIsExactOrWithinBudget) {
  for (auto id : {kRowCase, kPackedCase}) {
    const CaseResult r = run_with(Fault::none, id);
    EXPECT_TRUE(passes(r.verdict)) << id << ": " << verdict_name(r.verdict) << " " << r.message;
    EXPECT_EQ(r.n_over + r.n_nonfinite, 0u);
  }
}

TEST(FaultInjection, OneFlippedCodeIsOverBudgetAndNamed) {
  const CaseResult r = run_with(Fault::flip_one_code, kRowCase);
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  EXPECT_EQ(r.n_over, 1u);
  ASSERT_FALSE(r.first_bad.empty());
  EXPECT_NE(r.first_bad[0].find("code[4,0]"), std::string::npos) << r.first_bad[0];
}

TEST(FaultInjection, TieRoundedTheWrongWay) {
  // Exact ties: amax 448 * 2^-2 makes the scale 2^-2, so grid midpoints are exact ties; the
  // profile-exact result rounds them to even, a kernel that rounds one away is over budget.
  const std::string id = "quant.group/vllm/e4m3fn/bf16/4x512/gs128/row/ties_scale=0.25/s3";
  EXPECT_EQ(run_with(Fault::none, id).verdict, Verdict::exact);
  const CaseResult r = run_with(Fault::wrong_way_tie, id);
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  EXPECT_EQ(r.n_over, 1u);
}

TEST(FaultInjection, R2UnmaskedPackingNamesTheCorruptedLanes) {
  const CaseResult r = run_with(Fault::unmasked_packing, kPackedCase);
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  bool lane = false;
  for (auto& l : r.first_bad) lane = lane || l.find("byte lane") != std::string::npos;
  EXPECT_TRUE(lane) << r.message;
}

TEST(FaultInjection, R3UnwrittenPaddingFails) {
  const CaseResult r = run_with(Fault::padding_unwritten, kPackedCase);
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  EXPECT_NE(r.message.find("padding"), std::string::npos);
  const CaseResult t = run_with(Fault::padding_unwritten,
                                "quant.group/vllm/e4m3fn/bf16/5x256/gs128/col-tma/normal_sigma=2/s1");
  EXPECT_EQ(t.verdict, Verdict::over_budget);
}

TEST(FaultInjection, R4ScaleNotAPowerOfTwo) {
  const CaseResult r = run_with(Fault::fp32_as_ue8m0, "quant.group/vllm/e4m3fn/bf16/4x256/gs128/row.ue8m0/normal_sigma=2/s1");
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  bool named = false;
  for (auto& l : r.first_bad) named = named || l.find("not a power of two") != std::string::npos;
  EXPECT_TRUE(named);
}

TEST(FaultInjection, R5ScaleCodeInconsistencyIsNamed) {
  const CaseResult r = run_with(Fault::no_requantize, kPackedCase);
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  EXPECT_NE(r.message.find("scale/code inconsistency"), std::string::npos) << r.message;
}

TEST(FaultInjection, R6Log2RuleDivergesAtPowerOfTwoBoundaries) {
  // fp32 inputs one ulp above 448 * 2^k: the scale lies just above a power of two.
  const CaseResult r = run_with(Fault::log2_pow2,
                                "quant.group/vllm/e4m3fn/fp32/8x128/gs128/ue8m0-packed/pow2-boundary_scale=448_emin=-6_emax=6/s1");
  EXPECT_EQ(r.verdict, Verdict::over_budget) << r.message << (r.first_bad.empty() ? "" : r.first_bad[0]);
}

TEST(FaultInjection, R7AllZeroGroupWithoutFloorIsNonFiniteAndNamed) {
  // torchao's shape (no floor, no clamp) and a Triton kernel's (vllm-triton without its floor: the
  // clamp passes the NaN on): both are R7, whatever else the profile would do.
  for (Fault f : {Fault::zero_group_no_floor, Fault::zero_group_nan_clamped})
    for (auto id : {"quant.group/vllm/e4m3fn/bf16/2x256/gs128/row/zeros/s1",
                    "quant.group/vllm-triton/e4m3fn/bf16/3x512/gs128/row/zeros/s1"}) {
      const CaseResult r = run_with(f, id);
      EXPECT_EQ(r.verdict, Verdict::non_finite) << id;
      EXPECT_EQ(r.message, "every all-zero group has scale 0 and codes of 0 / 0 (NaN, or +-max where a clamp met "
                           "the NaN): no amax floor: the scale amax / max is 0 and the quotient 0 / 0 (R7)") << id;
    }
}

TEST(FaultInjection, ZeroCodesInANanScaleMxBlockAreAnEquivalentEncoding) {
  for (auto id : {"quant.mx/ocp-mx/e4m3fn/bf16/130x96/gs32/mx-row/normal_nan=97_inf=131/s1",
                  "quant.mx/ocp-mx/e4m3fn/bf16/130x96/gs32/mx-swizzle-128x4/normal_nan=97_inf=131/s1"}) {
    const CaseResult r = run_with(Fault::mx_nan_block_zeros, id);
    EXPECT_EQ(r.verdict, Verdict::within_budget) << id << ": " << r.message;
    EXPECT_EQ(r.n_over + r.n_nonfinite, 0u);
    EXPECT_NE(r.message.find("equivalent encoding: "), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("blocks whose scale is the ue8m0 NaN (0xFF)"), std::string::npos) << r.message;
  }
  // Where the block's scale is finite a changed code is wrong.
  const CaseResult wrong = run_with(Fault::flip_one_code, "quant.mx/ocp-mx/e4m3fn/bf16/130x96/gs32/mx-row/normal_sigma=2/s1");
  EXPECT_EQ(wrong.verdict, Verdict::over_budget);
}

TEST(FaultInjection, R8ZeroTokensIsACleanErrorNotACrash) {
  const CaseResult bad = run_with(Fault::crash_on_empty, "quant.group/vllm/e4m3fn/bf16/0x640/gs128/ue8m0-packed/normal/s1");
  EXPECT_EQ(bad.verdict, Verdict::error);
  EXPECT_NE(bad.message.find("division by zero"), std::string::npos);
  EXPECT_EQ(run_with(Fault::none, "quant.group/vllm/e4m3fn/bf16/0x640/gs128/ue8m0-packed/normal/s1").verdict, Verdict::exact);
}

TEST(FaultInjection, R9UnclampedCastIsNonFinite) {
  EXPECT_EQ(run_with(Fault::unclamped_cast, "quant.group/vllm/e4m3fn/bf16/4x512/gs128/row/near-overflow_max=448/s1").verdict,
            Verdict::non_finite);
}

TEST(FaultInjection, R10FnuzBytesReadAsOcpIsALayoutVerdict) {
  // fnuz bytes read as OCP are 2x off, and where |v| > 240 the fnuz byte (0x7F) reads as NaN: only
  // the encoding mix-up explains that, not a factor of two in the arithmetic.
  const CaseResult r = run_with(Fault::fnuz_as_ocp, kRowCase);
  EXPECT_EQ(r.verdict, Verdict::layout);
  EXPECT_EQ(r.message, "codes are 2x the expected values with the scales right: e4m3fnuz bytes read as e4m3fn (R10)");
}

TEST(FaultInjection, R10OcpBytesReadAsFnuzCannotBeToldFromAFactorOfOneHalf) {
  // OCP bytes of v read as fnuz are exactly v / 2 wherever both formats hold v: the data fits the
  // encoding mix-up and a halving in the quantization step equally, and the diagnosis says so.
  const CaseResult r = run_with(Fault::fnuz_as_ocp, "quant.group/aiter/e4m3fnuz/bf16/4x512/gs128/row/normal_sigma=2/s1");
  EXPECT_EQ(r.verdict, Verdict::layout);
  EXPECT_EQ(r.message,
            "codes are 1/2 the expected values with the scales right: e4m3fn bytes read as e4m3fnuz (R10), or a "
            "factor off by a power of two in the quantization step");
}

TEST(FaultInjection, CodesTwiceTooLargeWithTheRightScalesAreAFactorNotAnEncoding) {
  // Under e4m3fnuz, 2x the values (clamped at 224) is no encoding mix-up: fnuz bytes read as
  // fnuz would be 1/2, not 2x.
  const CaseResult r = run_with(Fault::doubled_codes, "quant.group/vllm/e4m3fnuz/bf16/4x512/gs128/row/normal_sigma=2/s1");
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  EXPECT_EQ(r.message, "codes are 2x the expected values with the scales right: a factor off by a power of two in the "
                       "quantization step");
}

TEST(FaultInjection, ReversedBytesInPackedWordsAreNamedNotMistakenForALayout) {
  // K = 640: five groups, so every second word has three unused slots, which the reversal fills.
  for (auto id : {kPackedCase, std::string_view("quant.group/vllm/e4m3fn/bf16/130x512/gs128/ue8m0-packed/normal_sigma=2/s1")}) {
    const CaseResult r = run_with(Fault::reversed_words, id);
    EXPECT_EQ(r.verdict, Verdict::layout) << id;
    EXPECT_EQ(r.message, "every packed ue8m0 word holds the right scales in reversed byte order (group 4p+j in byte "
                         "3-j): a big-endian packing of the int32 words") << id;
  }
}

TEST(FaultInjection, AnOutputOfAnotherProfileIsAProfileDivergence) {
  const CaseResult r = run_with(Fault::sglang_arithmetic, "quant.group/vllm/e4m3fn/bf16/16x512/gs128/row/normal_sigma=2/s1");
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  EXPECT_EQ(r.message, "profile divergence: the output follows profile sglang, not vllm");
}

TEST(FaultInjection, AnUnexplainedMismatchSaysSoWithoutAStory) {
  const CaseResult r = run_with(Fault::flip_one_code, kRowCase);
  EXPECT_EQ(r.message, "1 code over budget; no hypothesis explains the output");
}

TEST(FaultInjection, R11Max240For224IsNamed) {
  const CaseResult r = run_with(Fault::max_240_for_224, "quant.group/vllm/e4m3fnuz/bf16/4x512/gs128/row/normal_sigma=2/s1");
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  EXPECT_NE(r.message.find("fp8 max 240"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("224"), std::string::npos);
}

TEST(FaultInjection, R13TransposedScalesIsALayoutVerdict) {
  const CaseResult r = run_with(Fault::transposed_scales, kRowCase);
  EXPECT_EQ(r.verdict, Verdict::layout);
  EXPECT_NE(r.message.find("written as col"), std::string::npos) << r.message;
}

TEST(FaultInjection, R1Fp32ScalesInAPackedBufferIsALayoutVerdict) {
  const CaseResult r = run_with(Fault::fp32_into_packed, kPackedCase);
  EXPECT_EQ(r.verdict, Verdict::layout);
  EXPECT_NE(r.message.find("written as row"), std::string::npos) << r.message;
}

TEST(FaultInjection, R16ApproximateDivisionIsWithinTheTritonBudgetOnly) {
  const CaseResult triton = run_with(Fault::approx_division, "quant.group/vllm-triton/e4m3fn/bf16/16x512/gs128/row/normal_sigma=2/s1");
  EXPECT_EQ(triton.verdict, Verdict::within_budget) << triton.message;
  EXPECT_GT(triton.n_within, 0u);
  EXPECT_EQ(run_with(Fault::approx_division, "quant.group/vllm/e4m3fn/bf16/16x512/gs128/row/normal_sigma=2/s1").verdict,
            Verdict::over_budget);
}

TEST(FaultInjection, R20DoubleRoundingThroughBf16IsOverBudget) {
  const CaseResult r = run_with(Fault::bf16_double_round, "quant.group/vllm/e4m3fn/bf16/32x512/gs128/row/normal_sigma=2/s1");
  EXPECT_EQ(r.verdict, Verdict::over_budget);
}

// ---- each bug class named: one profile parameter, a cast rounding, a scale computation, stores --

struct Story {
  Fault fault;
  std::string_view id;
  Verdict verdict;
  std::string_view message;
};

constexpr Story kStories[] = {
    // Every group below 1e-4: DeepGEMM's own arithmetic gives the same output, and the story says so.
    {Fault::amax_floor_1e4, "quant.group/vllm/e4m3fn/bf16/3x512/gs128/row/uniform_lo=-5e-05_hi=5e-05/s1",
     Verdict::over_budget,
     "the data fits 2 explanations: profile divergence: the output follows profile deepgemm, not vllm; or profile "
     "mismatch: the output follows vllm with amax floor 0.0001 instead of 1e-10"},
    {Fault::no_clamp, "quant.group/aiter/e4m3fn/bf16/16x512/gs128/row/normal_nan=97_inf=131/s1", Verdict::non_finite,
     "profile mismatch: the output follows aiter with clamp none instead of +-max"},
    {Fault::rz_cast, kRowCase, Verdict::over_budget,
     "codes are the quotients rounded toward zero: a truncating fp8 cast (round toward zero) instead of RNE"},
    {Fault::ties_away_cast, "quant.group/vllm/e4m3fn/bf16/4x512/gs128/row/ties_scale=0.25/s3", Verdict::over_budget,
     "codes round exact ties away from zero: a cast that rounds ties away from zero instead of to even"},
    {Fault::bf16_double_round, "quant.group/vllm/e4m3fn/bf16/32x512/gs128/row/normal_sigma=2/s1", Verdict::over_budget,
     "codes are the quotients rounded to bf16 before the fp8 cast: double rounding through bf16 (R20)"},
    {Fault::ue8m0_round_down, kPackedCase, Verdict::over_budget,
     "scales are the power of two below the profile's wherever the unrounded scale is not one, and the codes follow "
     "them: the scale's power-of-two rounding rounds down (toward zero) where the profile rounds up"},
    {Fault::floor_on_scale, "quant.group/vllm/e4m3fn/bf16/3x512/gs128/row/uniform_lo=-5e-11_hi=5e-11/s1",
     Verdict::over_budget,
     "every differing scale is the amax floor 1e-10 and the codes follow it: the floor applied to the scale "
     "(s = max(amax / max, floor)) instead of to the amax"},
    {Fault::half_group_amax, kRowCase, Verdict::over_budget,
     "the amax of some groups misses elements: scales and codes follow the largest |x| of part of the group: a "
     "reduction narrower than the group (R12: a shuffle width or mask written for 32 lanes; R17: a group wider than "
     "the lanes that reduce it) or a dropped lane"},
    // MX scale roundings the profiles do not have, named rather than taken for a lane bug (R12).
    {Fault::mx_even_rule, "quant.mx/ocp-mx/e4m3fn/bf16/130x96/gs32/mx-swizzle-128x4/normal_sigma=2/s1",
     Verdict::over_budget,
     "MX scales follow the even rule (amax rounded half up to the element's mantissa, then the floor rule) where "
     "ocp-mx uses floor, and the codes follow them: a block-scale rounding other than the profile's"},
    {Fault::mx_ceil_rule, "quant.mx/ocp-mx/e4m3fn/fp32/64x96/gs32/mx-row/pow2-boundary_scale=448_emin=-6_emax=6/s1",
     Verdict::over_budget,
     // rceil and an exact ceil agree wherever fl(amax * fl(1/448)) does not cross a power of two: the story
     // says the data cannot tell them apart.
     "the data fits 3 explanations: profile divergence: the output follows profile te, not ocp-mx; or MX scales "
     "follow the rceil rule (fl(amax * fl(1/max)) rounded up to a power of two) where ocp-mx uses floor, and the "
     "codes follow them: a block-scale rounding other than the profile's; or MX scales follow the ceil rule "
     "(2^ceil(log2(amax / max)), exact) where ocp-mx uses floor, and the codes follow them: a block-scale rounding "
     "other than the profile's"},
    {Fault::mx_even_rule, "quant.mx/te/e4m3fn/bf16/130x96/gs32/mx-row/normal_sigma=2/s1", Verdict::over_budget,
     "MX scales follow the even rule (amax rounded half up to the element's mantissa, then the floor rule) where te "
     "uses rceil, and the codes follow them: a block-scale rounding other than the profile's"},
    {Fault::mx_rn_rule, "quant.mx/te/e4m3fn/bf16/130x96/gs32/mx-row/normal_sigma=2/s1", Verdict::over_budget,
     "MX scales follow the rn rule (fl(amax / max) rounded to the nearest power of two) where te uses rceil, and "
     "the codes follow them: a block-scale rounding other than the profile's"},
    {Fault::mx_amax_floor, "quant.mx/te/e4m3fn/bf16/130x96/gs32/mx-row/zeros/s1", Verdict::over_budget,
     "profile mismatch: the output follows te with amax floor 1e-30 instead of none"},
    {Fault::scales_shifted, kRowCase, Verdict::layout,
     "the scales are the profile's shifted by one slot (group i's scale in slot i+1): a scale index off by one"},
    {Fault::scales_swapped, kRowCase, Verdict::layout,
     "partly explained: the storage holds the profile's scales and padding at other places than row puts them: an "
     "index map of no known layout (a swizzle, stride or group index bug)"},
    // K = 640: five groups, three unused slots in each second word; M = 7: one padding row.
    {Fault::padding_unwritten, kPackedCase, Verdict::over_budget,
     "29 padding bytes never written (still the poison byte 0xA5): uninitialised padding (R3)"},
};

TEST(FaultInjection, EachBugClassIsNamed) {
  for (const Story& s : kStories) {
    const CaseResult r = run_with(s.fault, s.id);
    EXPECT_EQ(r.verdict, s.verdict) << s.id << ": " << r.message;
    EXPECT_EQ(r.message, s.message) << s.id;
  }
}

TEST(FaultInjection, AnUnwrittenGroupIsPoisonAndNamed) {
  const CaseResult r = run_with(Fault::last_group_unwritten, kRowCase);
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  // The group's codes that differ from the poison byte (nearly all), and its scale's four bytes.
  EXPECT_NE(r.message.find(" code bytes, 4 scale bytes never written (still the poison byte 0xA5): a missing store"),
            std::string::npos) << r.message;
}

TEST(FaultInjection, InjectedNanIsNonFinite) {
  EXPECT_EQ(run_with(Fault::nan_injected, kRowCase).verdict, Verdict::non_finite);
}
