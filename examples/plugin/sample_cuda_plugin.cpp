// A sample GPU plugin: the suite's CUDA quantization kernels behind the C API, claiming every quant
// profile on sm90. Its tensors are device memory and its work goes on the call's stream; its
// outputs must equal the cuda backend's, digest for digest (ci/gpu-run.sh, step plugin).
#include <vector>

#include "examples/plugin/read_call.hpp"
#include "kernels/portable/arch.hpp"
#include "kernels/quant/quant_gpu.hpp"

namespace {

using namespace ulpgate;
using namespace ulpgate::sample;

int run_quant(void*, const ulpgate_call* c, char* message, size_t size) {
  return guarded(message, size, [&] {
    const DLTensor* x = in(c, "x");
    const std::span<uint8_t> codes = out_bytes(c, "codes"), scales = out_bytes(c, "scales");
    const quant::Spec s = quant_spec(c);
    const quant_kernels::QuantPlan plan =
        quant_kernels::plan_quant(s, element_format(x->dtype), kSm90, bytes_of(x).size(), codes.size(), scales.size());
    quant_kernels::launch_quant_gpu(plan, x->data, codes.data(), scales.data(), c->stream);
  });
}

const std::vector<ulpgate_op>& table() {
  static const std::vector<ulpgate_op> rows = [] {
    std::vector<ulpgate_op> r;
    add_quant_rows(r, "sm90", run_quant);
    return r;
  }();
  return rows;
}

}  // namespace

extern "C" ULPGATE_EXPORT const ulpgate_plugin* ulpgate_plugin_entry(void) {
  static const ulpgate_plugin plugin{ULPGATE_ABI_VERSION, "sample-cuda", "1", table().data(), int32_t(table().size()), nullptr};
  return &plugin;
}
