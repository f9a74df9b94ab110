// run_case with the RMSNorm reference on a device (harness/norm/device_reference.hpp), here the
// host-SIMT emulation of the CUDA reference's kernels: every result equals the one judged with the
// host reference (verdict, counts, ULPs and their histogram, digest, message, first bad elements,
// maps) on the ci catalog, and on kernels whose outputs are wrong (y or a code moved, a residual
// flipped), where the comparison and the diagnosis read the device's expected results.
#include <gtest/gtest.h>

#include "harness/backends/device_references.hpp"
#include "harness/norm/run_case.hpp"
#include "suites/host_kernels.hpp"
#include "suites/same_judgement.hpp"

using namespace ulpgate;

namespace {

// The host backend's RMSNorm kernels (warp 32), with the emulated device reference on request,
// with outputs perturbed on request (every 29th y and fp8 code one code up, the first residual's
// sign flipped; a byte written past y: out of bounds; the scale storage's last byte changed; a
// byte of x, or of the residual, changed after the kernel ran), and left "on the device" on
// request.
struct Emulated {
  bool device_reference = false, perturbed = false, held_outputs = false, past_the_end = false, last_scale_byte = false;
  const char* writes_input = nullptr;  // "x" or "residual"
};
class OnEmulatedDevice : public test_support::HostKernels {
 public:
  OnEmulatedDevice(Emulated how) : how_(how) {
    if (how.device_reference) reference_ = emulated_norm_reference(arch_by_name("host-w32"));
  }
  OnEmulatedDevice(bool device_reference, bool perturbed) : OnEmulatedDevice(Emulated{device_reference, perturbed}) {}
  std::string declines(const norm::Spec& spec) const override { return kernel_->declines(spec); }
  void norm(const norm::Spec& s, const norm::Buffers& io) override {
    kernel_->norm(s, io);
    if (how_.past_the_end) io.y.data()[io.y.size() + 5] = std::byte{0x11};  // the guard region after y
    if (how_.last_scale_byte) io.scales.back() ^= 0x40;
    if (how_.writes_input) {  // an input the kernel was handed, written as a faulty kernel might
      const std::span<const std::byte> in = std::string_view(how_.writes_input) == "x" ? io.x : io.residual;
      const_cast<std::byte&>(in[in.size() / 2]) ^= std::byte{0x01};
    }
    if (!how_.perturbed) return;
    const std::span<uint16_t> y(reinterpret_cast<uint16_t*>(io.y.data()), io.y.size() / 2);
    for (size_t i = 0; i < y.size(); i += 29) y[i] = uint16_t(y[i] + 1);
    for (size_t i = 0; i < io.codes.size(); i += 29) io.codes[i] = uint8_t(io.codes[i] + 1);
    if (!io.residual_out.empty()) io.residual_out[1] ^= std::byte{0x80};
  }
  // Kept as a device keeps them: in buffers of their own that the harness fetches by rows.
  std::unique_ptr<norm_kernels::HeldOutputs> norm_held(const norm::Spec& s, const InputRows& x, const InputRows& residual,
                                                       std::span<const std::byte> weight) override {
    if (!how_.held_outputs) return nullptr;
    const norm::RowInputs rows{x, residual, {weight.begin(), weight.end()}, {}};
    auto kept = std::make_unique<norm::HostOutputs>(s, rows.whole());
    norm(s, kept->buffers());
    kept->ran();
    return kept;
  }
  norm::DeviceReference* norm_reference() override { return reference_ ? &rows_seen_ : nullptr; }
  // The most rows the references were computed for at once.
  int64_t widest_reference() const { return rows_seen_.widest; }

 private:
  // The emulated reference, recording how many rows it is asked for.
  struct RowsSeen : norm::DeviceReference {
    OnEmulatedDevice* owner;
    int64_t widest = 0;
    explicit RowsSeen(OnEmulatedDevice* o) : owner(o) {}
    std::string name() const override { return owner->reference_->name(); }
    std::string declines(const norm::Case& c) const override { return owner->reference_->declines(c); }
    norm::Expected expected(const norm::Case& c, const norm::Tensors& in) override {
      widest = std::max(widest, c.spec.m);
      return owner->reference_->expected(c, in);
    }
  };
  Emulated how_;
  std::unique_ptr<norm::DeviceReference> reference_;
  RowsSeen rows_seen_{this};
};

// `widest`, when given, gets the most rows a reference was computed for at once.
CaseResult judged(std::string_view id, Emulated how, int64_t slab_elements, int64_t* widest = nullptr) {
  OnEmulatedDevice backend(how);
  CaseResult r = norm::run_case(norm::Case::parse(id), backend, slab_elements).result;
  if (widest) *widest = backend.widest_reference();
  return r;
}

void expect_same_judgement(std::string_view id, bool perturbed) {
  OnEmulatedDevice host(false, perturbed), device(true, perturbed);
  const CaseResult want = norm::run_case_id(id, host, nullptr), got = norm::run_case_id(id, device, nullptr);
  const std::string what(id);
  test_support::expect_same_judgement(got, want, what);
  EXPECT_EQ(got.note, "references on host-simt (host-w32)") << what;
  EXPECT_EQ(want.note.find("references on"), std::string::npos) << what << ": " << want.note;
}

}  // namespace

TEST(NormDeviceReference, TheCiCatalogIsJudgedAsTheHostReferenceJudgesIt) {
  for (const std::string& id : norm::catalog_ids(Tier::ci)) expect_same_judgement(id, false);
}

TEST(NormDeviceReference, WrongOutputsAreJudgedAndDiagnosedAsOnTheHost) {
  for (const char* id : {"norm.rms/vllm/bf16/3x1025/normal/s1", "norm.rms-add/aiter/fp16/3x1025/normal/s1",
                         "norm.rms/hf/bf16/3x7168/normal/s1", "norm.rms-quant/vllm/bf16/5x1024/e4m3fn/gs64/ue8m0-packed/normal/s1",
                         "norm.rms-quant/aiter/bf16/5x1024/e4m3fnuz/token/normal/s1",
                         "norm.rms-add-quant/vllm/bf16/5x1024/e4m3fn/static=0.0123/normal/s1"}) {
    OnEmulatedDevice device(true, true);
    const CaseResult r = norm::run_case_id(id, device, nullptr);
    EXPECT_FALSE(passes(r.verdict)) << id << ": " << r.message;
    expect_same_judgement(id, true);
  }
}

// Judged a row at a time (run_case's slabs), each slab's references computed on the device: the
// judgement of the host reference on the whole case.
TEST(NormDeviceReference, SlabsOfRowsAreJudgedAsTheWholeCaseOnTheHost) {
  for (const char* id : {"norm.rms/vllm/bf16/3x1025/normal/s1", "norm.rms-add/aiter/fp16/3x1025/normal/s1"}) {
    OnEmulatedDevice host(false, false), device(true, false);
    const CaseResult want = norm::run_case(norm::Case::parse(id), host, 0).result;
    const CaseResult got = norm::run_case(norm::Case::parse(id), device, 1).result;
    test_support::expect_same_judgement(got, want, id);
    EXPECT_EQ(got.note, "references on host-simt (host-w32)") << id;
  }
}

// y and the residual left on the emulated device, fetched and judged a row at a time beside the
// slabs' references: as the host reference judges the whole case, and, for wrong outputs and a
// write past y, as the same slabs judge them here.
TEST(NormDeviceReference, OutputsLeftOnTheDeviceAreJudgedAsOnTheHost) {
  for (const char* id : {"norm.rms/vllm/bf16/3x1025/normal/s1", "norm.rms-add/aiter/fp16/3x1025/normal/s1"}) {
    const CaseResult got = judged(id, {true, false, true}, 1);
    test_support::expect_same_judgement(got, judged(id, {}, 0), id);
    EXPECT_EQ(got.note, "references and outputs on host-simt (host-w32)") << id;
    const CaseResult bad = judged(id, {true, true, true}, 1);
    EXPECT_FALSE(passes(bad.verdict)) << id << ": " << bad.message;
    test_support::expect_same_judgement(bad, judged(id, {true, true, false}, 1), id);
    const CaseResult past = judged(id, {true, false, true, true}, 1);
    EXPECT_EQ(past.verdict, Verdict::out_of_bounds) << id << ": " << past.message;
    EXPECT_NE(past.message.find("y"), std::string::npos) << past.message;
    test_support::expect_same_judgement(past, judged(id, {false, false, false, true}, 0), id);
  }
}

// The fused quantizer's codes left on the emulated device and fetched a row at a time, its scale
// storage cut by rows (col-tma and ue8m0-packed: 5 rows stored in 8, the padding rows whole; per
// token; a static scale, none stored), with and without the residual: the whole case's judgement
// on the host, passing or not, a passing one from references made a row at a time; a failing
// case, or one whose padding is not the layout's, judged and diagnosed whole.
TEST(NormDeviceReference, FusedQuantOutputsLeftOnTheDeviceAreJudgedAsTheWholeCase) {
  for (const char* id : {"norm.rms-quant/vllm/bf16/5x1024/e4m3fn/gs128/col-tma/normal/s1",
                         "norm.rms-quant/vllm/bf16/5x1024/e4m3fn/gs64/ue8m0-packed/normal/s1",
                         "norm.rms-quant/aiter/bf16/5x1024/e4m3fnuz/token/normal/s1",
                         "norm.rms-add-quant/vllm/bf16/3x7168/e4m3fn/gs128/ue8m0-packed/normal/s1",
                         "norm.rms-add-quant/vllm/bf16/5x1024/e4m3fn/static=0.0123/normal/s1"}) {
    int64_t widest = 0;
    const CaseResult got = judged(id, {true, false, true}, 1, &widest);
    EXPECT_TRUE(passes(got.verdict)) << id << ": " << got.message;
    EXPECT_EQ(widest, 1) << id << ": the references were made a row at a time, never the whole case's";
    test_support::expect_same_judgement(got, judged(id, {}, 0), id);
    EXPECT_EQ(got.note, "references and outputs on host-simt (host-w32)") << id;
    const CaseResult bad = judged(id, {true, true, true}, 1);
    EXPECT_FALSE(passes(bad.verdict)) << id << ": " << bad.message;
    test_support::expect_same_judgement(bad, judged(id, {false, true, false}, 0), id);
    const std::string_view layout = norm::Case::parse(id).spec.gs ? "padding" : "";
    if (layout.empty()) continue;  // per token and static: no padding
    const CaseResult padding = judged(id, {true, false, true, false, true}, 1);
    EXPECT_FALSE(passes(padding.verdict)) << id << ": " << padding.message;
    EXPECT_NE(padding.message.find("padding"), std::string::npos) << id << ": " << padding.message;
    test_support::expect_same_judgement(padding, judged(id, {false, false, false, false, true}, 0), id);
  }
}

// A kernel that writes into its input, left on the device where the judge reads it back: named,
// out of bounds, whatever its outputs' judgement against the rows it left.
TEST(NormDeviceReference, AKernelThatWritesIntoItsInputIsOutOfBounds) {
  for (const auto& [id, input] : {std::pair{"norm.rms/vllm/bf16/3x1025/normal/s1", "x"},
                                  {"norm.rms-add/aiter/fp16/3x1025/normal/s1", "residual"},
                                  {"norm.rms-add-quant/vllm/bf16/5x1024/e4m3fn/gs128/row/normal/s1", "x"}}) {
    Emulated how{true, false, true};
    how.writes_input = input;
    const CaseResult r = judged(id, how, 1);
    EXPECT_EQ(r.verdict, Verdict::out_of_bounds) << id << ": " << r.message;
    const int64_t m = norm::Case::parse(id).spec.m;
    EXPECT_EQ(r.message.find("wrote into its input " + std::string(input) + ": 1 of " + std::to_string(m) +
                             " rows differ from what was made (the first: row " + std::to_string(m / 2) + ")"),
              0u)
        << id << ": " << r.message;
    how.writes_input = nullptr;
    EXPECT_TRUE(passes(judged(id, how, 1).verdict)) << id;
  }
}

// x and the residual made a range of rows at a time (what the kernel's device copies are made
// from) are raw_inputs' bytes; the weight is raw_inputs' too.
TEST(NormDeviceReference, InputRowsAreTheRawInputsRows) {
  for (const char* id : {"norm.rms/vllm/bf16/3x1025/normal/s1", "norm.rms-add/aiter/fp16/3x1025/normal/s1"}) {
    const norm::Case c = norm::Case::parse(id);
    const norm::Tensors want = c.raw_inputs(), got = c.input_rows().whole();
    EXPECT_EQ(got.x, want.x) << id;
    EXPECT_EQ(got.residual, want.residual) << id;
    EXPECT_EQ(got.weight, want.weight) << id;
    EXPECT_EQ(got.values.weight, want.values.weight) << id;
    EXPECT_EQ(c.input_rows().residual.m, c.spec.has_residual() ? c.spec.m : 0) << id;
    std::vector<std::byte> last(size_t(c.spec.h) * 2);
    c.input_rows().x.fill(2, 3, last);
    EXPECT_TRUE(std::equal(last.begin(), last.end(), want.x.end() - ptrdiff_t(last.size()))) << id;
  }
}
