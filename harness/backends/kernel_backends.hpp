// The kernel backends of the harness: `host` (the host-SIMT emulation at any arch's warp size
// and conversion semantics) and, in CUDA builds, `cuda` (sm90) and `vendor` (cuBLASLt on sm90).
#pragma once

namespace ulpgate {

// Registers "host" and, when built with CUDA, "cuda" and "vendor" (cuBLASLt) with register_backend.
void register_kernel_backends();

}  // namespace ulpgate
