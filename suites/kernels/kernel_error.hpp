// Tests of kernel errors compare the emulator's whole message.
#pragma once

#include <string>

#include "kernels/portable/host_simt.hpp"

namespace ulpgate {

// The message of the host_simt::KernelError that run() throws, or "no error".
template <class Run>
std::string error_of(Run&& run) {
  try {
    run();
  } catch (const host_simt::KernelError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace ulpgate
