#include "harness/allreduce/device_reference.hpp"

namespace ulpgate::allreduce {

Expected expected_on(Backend& backend, const Case& c, const Inputs& in, std::string* where) {
  DeviceReference* d = backend.allreduce_reference();
  if (d && where) *where = d->name();
  Expected e = d ? d->expected(c, in) : expected(c, in);
  if (const RingOrder* ring = backend.measured_order(c.spec)) hold_to_ring(e, c, *ring, in);
  return e;
}

}  // namespace ulpgate::allreduce
