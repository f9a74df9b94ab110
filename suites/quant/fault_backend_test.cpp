// The comparator and diagnosis, proven with a test-only backend that returns the profile-exact
// result with one controlled fault: each known bug of spec/known-bugs.md must get its verdict.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>

#include <set>

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
};

Profile patched(const Spec& s, Fault f) {
  Profile p = *s.profile;
  if (f == Fault::log2_pow2) p.pow2 = Pow2Rule::exp2_ceil_log2;
  if (f == Fault::zero_group_no_floor) {  // torchao: no floor, and no clamp that hides 0/0
    p.amax_floor = p.scale_floor = 0;
    p.nan = NanPolicy::propagate;
  }
  if (f == Fault::max_240_for_224) p.max_fnuz = 240;
  return p;
}

// Codes recomputed element by element from given scales, with q transformed before the cast.
template <class Q>
void requantize(const Spec& s, std::span<const float> x, std::span<const float> scales, std::span<uint8_t> codes, Q q_of) {
  const int64_t g = s.scale_shape().g;
  const float max = s.fp8_max();
  for (int64_t r = 0; r < s.m; ++r)
    for (int64_t c = 0; c < s.k; ++c) {
      const size_t i = size_t(r * s.k + c);
      float q = q_of(x[i], scales[size_t((r / s.tile_rows()) * g + c / s.tile_cols())], i);
      if (s.profile->clamp) q = std::fmin(std::fmax(q, -max), max);
      codes[i] = uint8_t(encode(q, Conversion{s.format, s.profile->cast}));
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
      default: break;
    }
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

TEST(FaultInjection, R7AllZeroGroupWithoutFloorIsNonFinite) {
  const CaseResult r = run_with(Fault::zero_group_no_floor, "quant.group/vllm/e4m3fn/bf16/2x256/gs128/row/zeros/s1");
  EXPECT_EQ(r.verdict, Verdict::non_finite);
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

TEST(FaultInjection, InjectedNanIsNonFinite) {
  EXPECT_EQ(run_with(Fault::nan_injected, kRowCase).verdict, Verdict::non_finite);
}

// Validates the budget derivation itself: on the whole catalog, every profile-exact code equals
// the ideal code or differs by one code within its budget's proven quotient error of a boundary.
TEST(Catalog, ProfileExactLiesWithinTheBudgetOfTheIdeal) {
  uint64_t flips = 0, elements = 0;
  for (const Case& c : catalog()) {
    const Inputs in = c.inputs();
    const Expected e = expected(c, in);
    const CodeBudget b = code_budget(default_budgets(), c.spec);
    const int64_t g = c.spec.scale_shape().g;
    for (int64_t r = 0; r < c.spec.m; ++r)
      for (int64_t k = 0; k < c.spec.k; ++k) {
        const size_t i = size_t(r * c.spec.k + k);
        ++elements;
        if (e.profile.codes[i] == e.ideal[i]) continue;
        const float s = e.profile.scales[size_t((r / c.spec.tile_rows()) * g + k / c.spec.tile_cols())];
        ASSERT_TRUE(justified_flip(c.spec.format, e.profile.codes[i], e.ideal[i], in.values[i], s, b.ideal_rel_error))
            << c.id() << " element " << i << " x=" << in.values[i] << " s=" << s;
        ++flips;
      }
  }
  EXPECT_GT(elements, 1000000u);
  EXPECT_LT(flips * 1000, elements);  // flips are rare boundary events, not a systematic bias
}

TEST(Catalog, IdsAreUniqueAndRoundTrip) {
  std::set<std::string> ids;
  for (const Case& c : catalog()) {
    const std::string id = c.id();
    EXPECT_TRUE(ids.insert(id).second) << "duplicate " << id;
    EXPECT_EQ(Case::parse(id).id(), id);
  }
}
