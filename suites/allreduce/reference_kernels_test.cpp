// The device all-reduce reference (kernels/allreduce/reference_kernels.hpp) against the host
// reference, bit for bit: every case of the all-reduce catalog, in both documented orders, on the
// host-SIMT emulator at warp 32 and 64, and with CUDA where a GPU is present (the ci tier, then
// the full tier's messages up to 64 MiB). The ideal's bits, exact sums and magnitudes, and the
// ordered sums must all be the host's.
#include <gtest/gtest.h>

#include <cstring>

#include "harness/allreduce/catalog.hpp"
#include "kernels/allreduce/reference_host.hpp"
#include "kernels/portable/arch.hpp"
#include "suites/sample.hpp"
#if defined(ULPGATE_HAVE_CUDA)
#include "kernels/allreduce/reference_gpu.hpp"
#include "kernels/quant/quant_gpu.hpp"
#endif

namespace ulpgate::allreduce {
namespace {

template <class T>
std::string differs(const char* what, const std::vector<T>& host, const std::vector<T>& dev) {
  if (host.size() != dev.size()) return std::string(what) + ": sizes " + std::to_string(host.size()) + " and " + std::to_string(dev.size());
  for (size_t i = 0; i < host.size(); ++i)
    if (std::memcmp(&host[i], &dev[i], sizeof(T)) != 0) return std::string(what) + " differs at " + std::to_string(i);
  return "";
}

// The first difference between the device's result and the host's (ideal, and the sum in `order`), or "".
std::string difference(const Case& c, const Ideal& host, Order order, const Inputs& in, const allreduce_kernels::ReferenceResult& dev) {
  for (const std::string& d : {differs("ideal bits", host.bits, dev.ideal.bits), differs("exact", host.exact, dev.ideal.exact),
                               differs("abs_sum", host.abs_sum, dev.ideal.abs_sum),
                               differs("ordered", ordered_sum(c.spec, order, in), dev.ordered)})
    if (!d.empty()) return d;
  return "";
}

// Both documented orders (per_hop, no ordered sum, is run_case's path for NCCL: device_reference_test).
constexpr Order kOrders[] = {Order::rank_order, Order::rotated};

TEST(AllreduceReferenceKernels, TheEmulatedDeviceComputesTheHostReference) {
  int cases = 0;
  for (const Case& c : catalog(Tier::ci)) {
    if (!test_support::sampled(cases++)) continue;
    const Inputs in = c.inputs();
    const Ideal host = ideal(c.spec, in);
    for (const Arch* arch : {&kHostW32, &kHostW64})
      for (Order o : kOrders)
        EXPECT_EQ(difference(c, host, o, in, allreduce_kernels::reference_host(*arch, c.spec, o, in)), "") << c.id() << " " << arch->name;
  }
  EXPECT_GT(cases, 150);
}

#if defined(ULPGATE_HAVE_CUDA)
TEST(AllreduceReferenceKernelsCuda, TheGpuComputesTheHostReference) {
  if (quant_kernels::gpu_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (Tier tier : {Tier::ci, Tier::full})
    for (const Case& c : catalog(tier)) {
      if (tier == Tier::full && c.spec.bytes() > (int64_t(64) << 20)) continue;  // 256 MiB and 1 GiB: the sign-off's
      const Inputs in = c.inputs();
      const Ideal host = ideal(c.spec, in);
      for (Order o : kOrders) EXPECT_EQ(difference(c, host, o, in, allreduce_kernels::reference_gpu(c.spec, o, in)), "") << c.id();
    }
}
#endif

}  // namespace
}  // namespace ulpgate::allreduce
