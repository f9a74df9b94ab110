// The input as a repro bundle's case.json. Property: only UsageError escapes, and what the reader
// accepts the writer writes back to the same bundle (with zeroed data, where that is small).
#include "harness/report/bundle.hpp"
#include "suites/fuzz/fuzz_check.hpp"

namespace {

using namespace ulpgate;

constexpr uint64_t kMaxRoundTripBytes = 1 << 20;

void check_bundle(std::string_view text) {
  const auto bundle = fuzz::unless_rejected([&] { return parse_bundle_json(text, "case.json"); });
  if (!bundle) return;
  // bundle_json() wants each tensor's data; a shape may claim far more than is worth allocating.
  Bundle full = *bundle;
  uint64_t total = 0;
  for (BundleTensor& t : full.tensors) {
    const uint64_t bytes = *bundle_tensor_bytes(t.shape, t.dtype);
    if (bytes > kMaxRoundTripBytes - total) return;
    total += bytes;
    t.data.resize(bytes);
  }
  const std::string json = bundle_json(full);
  const Bundle back =
      fuzz::must_accept("the rewritten case.json\n" + json, [&] { return parse_bundle_json(json, "rewritten.json"); });
  if (!(back == *bundle)) fuzz::finding("parse(bundle_json(b)) != b; the rewritten case.json:\n" + json);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz::run(data, size, check_bundle);
}
