// Device copies of host buffers for a kernel that takes device memory (a GPU plugin through the C
// API): inputs uploaded, outputs in guarded device buffers that start with the host buffers' bytes
// (the harness's poison), everything on one stream of the current device. Plain C++; the CUDA side
// is device_copies.cu.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace ulpgate {

class DeviceCopies {
 public:
  virtual ~DeviceCopies() = default;
  virtual void* input(std::span<const std::byte> host) = 0;
  virtual void* output(const std::string& name, std::span<std::byte> host) = 0;
  virtual void* stream() = 0;  // a cudaStream_t
  virtual int device() = 0;
  // Waits for the stream and copies every output back into its host buffer; throws
  // guard::OutOfBounds naming the writes outside an output.
  virtual void finish() = 0;
};

std::unique_ptr<DeviceCopies> make_cuda_copies();

}  // namespace ulpgate
