// run_case with the quantization reference on a device (harness/quant/device_reference.hpp), here
// the host-SIMT emulation of the CUDA reference's kernels: every result equals the one judged with
// the host reference (verdict, counts, ULPs and their histogram, digest, message, first bad
// elements, maps) on the ci catalog, and on kernels whose outputs are wrong (codes moved, a scale
// byte flipped), where the comparison and the diagnosis read the device's expected results.
#include <gtest/gtest.h>

#include "harness/backends/device_references.hpp"
#include "harness/quant/run_case.hpp"
#include "suites/host_kernels.hpp"
#include "suites/same_judgement.hpp"

using namespace ulpgate;

namespace {

// The host backend's quantization kernels (warp 32), with the emulated device reference on
// request, with outputs perturbed on request (every 29th code one step up, the first scale byte
// flipped; one byte written past the codes: out of bounds; every second run's first code one
// step up: not deterministic), and left "on the device" on request.
struct Emulated {
  bool device_reference = false, perturbed = false, held_outputs = false, past_the_end = false, flaky = false;
  bool writes_input = false;  // a byte of x changed after the kernel ran
};
// Outputs in the emulator's memory, which is the host's: the emulated reference reads them where
// they are (HeldOutputs::codes_on_device), as the CUDA reference reads a CUDA kernel's.
class EmulatedOutputs : public quant::HostOutputs {
 public:
  explicit EmulatedOutputs(const quant::Spec& s) : HostOutputs(s), on_device_(codes_out().data()) {}
  const uint8_t* codes_on_device() const override { return on_device_; }

 private:
  const uint8_t* on_device_;
};

class OnEmulatedDevice : public test_support::HostKernels {
 public:
  OnEmulatedDevice(Emulated how) : how_(how) {
    if (how.device_reference) reference_ = emulated_quant_reference(arch_by_name("host-w32"));
  }
  OnEmulatedDevice(bool device_reference, bool perturbed) : OnEmulatedDevice(Emulated{device_reference, perturbed}) {}
  std::string declines(const quant::Spec& spec) const override { return kernel_->declines(spec); }
  void quant(const quant::Spec& s, Format in, std::span<const std::byte> x, std::span<uint8_t> codes,
             std::span<uint8_t> scales) override {
    kernel_->quant(s, in, x, codes, scales);
    if (how_.perturbed) {
      for (size_t i = 0; i < codes.size(); i += 29) codes[i] = uint8_t(codes[i] + 1);
      if (!scales.empty()) scales[0] ^= 0x40;
    }
    if (how_.past_the_end) codes.data()[codes.size() + 3] = 0x11;  // the guard region after the codes
    if (how_.flaky && runs_++ % 2 == 1 && !codes.empty()) codes[0] = uint8_t(codes[0] + 1);
    if (how_.writes_input && !wrote_input_) {  // once (a dynamic scale runs twice), as a faulty kernel might
      const_cast<std::byte&>(x[x.size() / 2]) ^= std::byte{0x01};
      wrote_input_ = true;
    }
  }
  // Kept as a device keeps them: in buffers of their own that the harness fetches by rows. The
  // input is the emulated reference's copy, in the emulator's (host) memory.
  std::unique_ptr<quant_kernels::HeldOutputs> quant_held(const quant::Spec& s, Format in, const void* x,
                                                         std::size_t x_bytes) override {
    if (!how_.held_outputs) return nullptr;
    auto kept = std::make_unique<EmulatedOutputs>(s);
    quant(s, in, {static_cast<const std::byte*>(x), x_bytes}, kept->codes_out(), kept->storage_out());
    kept->ran();
    return kept;
  }
  quant::DeviceReference* quant_reference() override { return reference_.get(); }

 private:
  Emulated how_;
  int runs_ = 0;
  bool wrote_input_ = false;
  std::unique_ptr<quant::DeviceReference> reference_;
};

// The device reference declines silu-mul (its exp) and scales rounded by libm's log2.
bool on_device(std::string_view id) {
  const quant::Spec spec = quant::Case::parse(id).spec;
  const bool log2 = spec.pow2_scales() && spec.profile->pow2 == quant::Pow2Rule::exp2_ceil_log2;
  return spec.op != quant::Op::silu_mul && !log2;
}

void expect_same_judgement(std::string_view id, bool perturbed) {
  OnEmulatedDevice host(false, perturbed), device(true, perturbed);
  const CaseResult want = quant::run_case_id(id, host, nullptr), got = quant::run_case_id(id, device, nullptr);
  const std::string what(id);
  test_support::expect_same_judgement(got, want, what);
  EXPECT_EQ(got.note == "references on host-simt (host-w32)", on_device(id)) << what << ": " << got.note;
  EXPECT_EQ(want.note.find("references on"), std::string::npos) << what << ": " << want.note;
}

// Cases whose perturbed outputs fail in each layout family, and a dynamic per-tensor amax.
constexpr const char* kPerturbed[] = {
    "quant.group/vllm/e4m3fn/bf16/31x640/gs128/row/normal_sigma=2/s1",
    "quant.group/deepgemm/e4m3fn/bf16/31x640/gs128/ue8m0-packed/normal_sigma=2/s1",
    "quant.mx/te/e4m3fn/bf16/130x96/gs32/mx-swizzle-128x4/normal_nan=97_inf=131/s1",
    "quant.tensor/vllm/e4m3fn/bf16/31x640/dynamic/row/normal_sigma=2/s1"};

// The case judged with its references whole on the host, or left on the emulated device and
// fetched three rows at a time (and the outputs with them where how.held_outputs).
CaseResult judged(std::string_view id, Emulated how) {
  const quant::Case c = quant::Case::parse(id);
  OnEmulatedDevice backend(how);
  return quant::run_case(c, backend, how.device_reference ? 3 * std::max<int64_t>(1, c.spec.k) : 0).result;
}
CaseResult judged(std::string_view id, bool device_reference, bool perturbed) {
  return judged(id, Emulated{device_reference, perturbed});
}

}  // namespace

// Every other ci case (half the catalog: every op, layout, profile and edge input occurs in it).
TEST(QuantDeviceReference, TheCiCatalogIsJudgedAsTheHostReferenceJudgesIt) {
  const std::vector<std::string> ids = quant::catalog_ids(Tier::ci);
  for (size_t i = 0; i < ids.size(); i += 2) expect_same_judgement(ids[i], false);
}

TEST(QuantDeviceReference, WrongOutputsAreJudgedAndDiagnosedAsOnTheHost) {
  for (const char* id : kPerturbed) {
    OnEmulatedDevice device(true, true);
    const CaseResult r = quant::run_case_id(id, device, nullptr);
    EXPECT_FALSE(passes(r.verdict)) << id << ": " << r.message;
    expect_same_judgement(id, true);
  }
}

// A slab of three rows at a time (the ci shapes have up to 130 rows): every fifth ci case and the
// wrong outputs judged as the host reference judges the whole case.
TEST(QuantDeviceReference, SlabsOfRowsAreJudgedAsTheWholeCase) {
  const std::vector<std::string> ids = quant::catalog_ids(Tier::ci);
  for (size_t i = 1; i < ids.size(); i += 5)
    test_support::expect_same_judgement(judged(ids[i], true, false), judged(ids[i], false, false), ids[i]);
  for (const char* id : kPerturbed) {
    const CaseResult got = judged(id, true, true);
    EXPECT_FALSE(passes(got.verdict)) << id << ": " << got.message;
    test_support::expect_same_judgement(got, judged(id, false, true), id);
  }
}

// Outputs left on the emulated device and fetched three rows at a time beside the references:
// every fifth ci case, the wrong outputs and a write past the codes judged (and digested) as with
// both whole on the host; the repeated run of a dynamic per-tensor scale compared slab by slab.
TEST(QuantDeviceReference, OutputsLeftOnTheDeviceAreJudgedAsOnTheHost) {
  const std::vector<std::string> ids = quant::catalog_ids(Tier::ci);
  for (size_t i = 2; i < ids.size(); i += 5) {
    const CaseResult got = judged(ids[i], {true, false, true});
    test_support::expect_same_judgement(got, judged(ids[i], false, false), ids[i]);
    EXPECT_EQ(got.note == "references and outputs on host-simt (host-w32)", on_device(ids[i])) << ids[i] << ": " << got.note;
  }
  for (const char* id : kPerturbed) {
    const CaseResult got = judged(id, {true, true, true});
    EXPECT_FALSE(passes(got.verdict)) << id << ": " << got.message;
    test_support::expect_same_judgement(got, judged(id, false, true), id);
  }
  const char* id = kPerturbed[0];
  const CaseResult past = judged(id, {true, false, true, true});
  EXPECT_EQ(past.verdict, Verdict::out_of_bounds) << past.message;
  EXPECT_NE(past.message.find("codes"), std::string::npos) << past.message;
  test_support::expect_same_judgement(past, judged(id, {false, false, false, true}), id);
  const char* dynamic = kPerturbed[3];
  const CaseResult flaky = judged(dynamic, {true, false, true, false, true});
  EXPECT_EQ(flaky.verdict, Verdict::over_budget) << flaky.message;
  EXPECT_NE(flaky.message.find("not deterministic: a repeated run gave 1 different codes"), std::string::npos) << flaky.message;
  test_support::expect_same_judgement(flaky, judged(dynamic, {false, false, false, false, true}), dynamic);
}

// The input made a range of rows at a time (what a device copy is made from, a slab at a time) is
// raw_inputs' bytes, in uneven slabs and from a middle row.
// A kernel that writes into the reference's copy of its input, which it reads and the judge reads
// back: named, out of bounds. Where it reads a copy of its own (no quant_held), the judge's is
// untouched and the outputs pass.
TEST(QuantDeviceReference, AKernelThatWritesIntoItsInputIsOutOfBounds) {
  for (const char* id : {kPerturbed[0], kPerturbed[1], kPerturbed[3]}) {
    Emulated how{true, false, true};
    how.writes_input = true;
    const CaseResult r = judged(id, how);
    EXPECT_EQ(r.verdict, Verdict::out_of_bounds) << id << ": " << r.message;
    const int64_t m = quant::Case::parse(id).spec.m;
    EXPECT_EQ(r.message.find("wrote into its input x: 1 of " + std::to_string(m) +
                             " rows differ from what was made (the first: row " + std::to_string(m / 2) + ")"),
              0u)
        << id << ": " << r.message;
    how.held_outputs = false;
    EXPECT_TRUE(passes(judged(id, how).verdict)) << id;
  }
}

TEST(QuantDeviceReference, InputRowsAreTheRawInputsRows) {
  for (const char* id : {kPerturbed[0], kPerturbed[2], "quant.group/vllm/e4m3fn/fp16/5x256/gs64/row/normal_sigma=4/s1",
                         "quant.group/vllm/e4m3fn/fp32/5x256/gs64/row/normal_sigma=4/s1"}) {
    const quant::Case c = quant::Case::parse(id);
    const std::vector<std::byte> whole = c.raw_inputs().raw;
    const InputRows rows = c.input_rows();
    ASSERT_EQ(size_t(rows.m) * rows.row_bytes, whole.size()) << id;
    std::vector<std::byte> joined;
    int slabs = 0;
    each_input_slab(rows, 3 * rows.row_bytes + 1, [&](int64_t row0, int64_t row1, std::span<const std::byte> b) {
      EXPECT_EQ(size_t(row0) * rows.row_bytes, joined.size()) << id;
      EXPECT_EQ(size_t(row1 - row0) * rows.row_bytes, b.size()) << id;
      joined.insert(joined.end(), b.begin(), b.end());
      ++slabs;
    });
    EXPECT_EQ(joined, whole) << id;
    EXPECT_EQ(slabs, (rows.m + 2) / 3) << id;
    std::vector<std::byte> middle(2 * rows.row_bytes);
    rows.fill(1, 3, middle);
    EXPECT_TRUE(std::equal(middle.begin(), middle.end(), whole.begin() + ptrdiff_t(rows.row_bytes))) << id;
  }
}
