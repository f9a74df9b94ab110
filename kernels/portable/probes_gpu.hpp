// Runs the probe kernels on the GPU (probes.cu); plain host C++ interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ulpgate::probes {

int gpu_device_count();  // 0 when there is no usable GPU

std::vector<float> gpu_block_amax(const std::vector<float>& rows, int n, int block_threads);
std::vector<float> gpu_vector_copy(const std::vector<float>& in, int block_threads);
std::vector<int> gpu_warp_ops(const std::vector<int>& in, int block_threads, int width);

struct Conversions {
  std::vector<uint8_t> e4m3, e5m2, ue8m0_rp, ue8m0_rz;
};
Conversions gpu_convert(const std::vector<float>& in);

// A guarded device output of n bytes after one kernel byte write at `offset`: the guard check's
// message ("" when the write stayed inside).
std::string gpu_stray_write(std::size_t n, long long offset);

}  // namespace ulpgate::probes
