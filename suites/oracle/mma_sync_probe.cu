// Measures what Hopper's warp-level mma.sync does with FP8 (spec/gemm.md: "how an FP8 dot that
// does not use wgmma runs on sm_90 is to be measured"): one warp per problem chains
// mma.sync.m16n8k32 e4m3 x e4m3 -> f32 over K (each step's D the next step's C), and, for the
// hypothesis that the FP8 instruction runs as f16 steps, the same inputs converted to f16 through
// mma.sync.m16n8k16 f16 x f16 -> f32. mma_sync_oracle.py compares both with the model rows.
//
//   mma_sync_probe OUT_DIR PROBLEMS K    (K a multiple of 32)
// reads OUT_DIR/a.u8 [PROBLEMS, 16, K] and b.u8 [PROBLEMS, 8, K] (e4m3fn codes, K-contiguous),
// c.f32 [PROBLEMS, 16, 8]; writes d_fp8.f32 and d_f16.f32 [PROBLEMS, 16, 8].
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#define CHECK(call)                                                                        \
  do {                                                                                     \
    cudaError_t e_ = (call);                                                               \
    if (e_ != cudaSuccess) {                                                               \
      std::fprintf(stderr, "%s failed: %s (%s:%d)\n", #call, cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(3);                                                                        \
    }                                                                                      \
  } while (0)

namespace {

// Fragments (PTX ISA, "Matrix fragments for mma.m16n8k32" .e4m3 and "for mma.m16n8k16" .f16):
// group g = lane / 4, t = lane % 4. A (row-major 16 x k): 8-bit, register r holds 4 codes at
// row g + 8 (r & 1), columns 16 (r >> 1) + 4 t + 0..3; 16-bit, register r holds 2 values at row
// g + 8 (r & 1), columns 8 (r >> 1) + 2 t + 0..1. B (k x 8, "col"): 8-bit, register r holds rows
// 16 r + 4 t + 0..3 of column g; 16-bit, rows 8 r + 2 t + 0..1. C/D: c[i] at row g + 8 (i >> 1),
// column 2 t + (i & 1).
// Two e4m3 codes as two f16 values in one register (exact: every e4m3 value is an f16 value).
__device__ uint32_t as_f16_pair(const uint8_t* codes) {
  const __half_raw lo = __nv_cvt_fp8_to_halfraw(__nv_fp8_storage_t(codes[0]), __NV_E4M3);
  const __half_raw hi = __nv_cvt_fp8_to_halfraw(__nv_fp8_storage_t(codes[1]), __NV_E4M3);
  return uint32_t(lo.x) | uint32_t(hi.x) << 16;
}

__global__ void probe(const uint8_t* a, const uint8_t* b, const float* c, float* d_fp8, float* d_f16, int k) {
  const int p = blockIdx.x, lane = threadIdx.x, g = lane / 4, t = lane % 4;
  const uint8_t* A = a + size_t(p) * 16 * k;  // [16, k]
  const uint8_t* B = b + size_t(p) * 8 * k;   // [8, k]: column n of the k x 8 operand, K-contiguous
  float acc8[4], acc16[4];
  for (int i = 0; i < 4; ++i) acc8[i] = acc16[i] = c[size_t(p) * 128 + (g + 8 * (i >> 1)) * 8 + 2 * t + (i & 1)];
  for (int k0 = 0; k0 < k; k0 += 32) {
    uint32_t ra[4], rb[2];
    for (int r = 0; r < 4; ++r) {
      const uint8_t* src = A + (g + 8 * (r & 1)) * k + k0 + 16 * (r >> 1) + 4 * t;
      ra[r] = src[0] | src[1] << 8 | src[2] << 16 | uint32_t(src[3]) << 24;
    }
    for (int r = 0; r < 2; ++r) {
      const uint8_t* src = B + g * k + k0 + 16 * r + 4 * t;
      rb[r] = src[0] | src[1] << 8 | src[2] << 16 | uint32_t(src[3]) << 24;
    }
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(acc8[0]), "+f"(acc8[1]), "+f"(acc8[2]), "+f"(acc8[3])
        : "r"(ra[0]), "r"(ra[1]), "r"(ra[2]), "r"(ra[3]), "r"(rb[0]), "r"(rb[1]));
    // The same 32 K as two f16 steps of 16 (K ascending).
    for (int half = 0; half < 2; ++half) {
      const int kh = k0 + 16 * half;
      uint32_t ha[4], hb[2];
      for (int r = 0; r < 4; ++r) {
        ha[r] = as_f16_pair(A + (g + 8 * (r & 1)) * k + kh + 8 * (r >> 1) + 2 * t);
      }
      for (int r = 0; r < 2; ++r) {
        hb[r] = as_f16_pair(B + g * k + kh + 8 * r + 2 * t);
      }
      asm volatile(
          "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
          : "+f"(acc16[0]), "+f"(acc16[1]), "+f"(acc16[2]), "+f"(acc16[3])
          : "r"(ha[0]), "r"(ha[1]), "r"(ha[2]), "r"(ha[3]), "r"(hb[0]), "r"(hb[1]));
    }
  }
  for (int i = 0; i < 4; ++i) {
    const size_t at = size_t(p) * 128 + (g + 8 * (i >> 1)) * 8 + 2 * t + (i & 1);
    d_fp8[at] = acc8[i];
    d_f16[at] = acc16[i];
  }
}

template <class T>
std::vector<T> load(const std::string& path, size_t n) {
  std::vector<T> v(n);
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f || std::fread(v.data(), sizeof(T), n, f) != n) {
    std::fprintf(stderr, "%s: expected %zu values\n", path.c_str(), n);
    std::exit(2);
  }
  std::fclose(f);
  return v;
}

void save(const std::string& path, const std::vector<float>& v) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(v.data(), sizeof(float), v.size(), f) != v.size()) {
    std::fprintf(stderr, "%s: cannot write\n", path.c_str());
    std::exit(2);
  }
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: mma_sync_probe OUT_DIR PROBLEMS K\n");
    return 2;
  }
  const std::string dir = argv[1];
  const int problems = std::atoi(argv[2]), k = std::atoi(argv[3]);
  if (problems <= 0 || k <= 0 || k % 32) {
    std::fprintf(stderr, "PROBLEMS > 0 and K a positive multiple of 32\n");
    return 2;
  }
  const auto a = load<uint8_t>(dir + "/a.u8", size_t(problems) * 16 * k);
  const auto b = load<uint8_t>(dir + "/b.u8", size_t(problems) * 8 * k);
  const auto c = load<float>(dir + "/c.f32", size_t(problems) * 128);
  uint8_t *da, *db;
  float *dc, *d8, *d16;
  CHECK(cudaMalloc(&da, a.size()));
  CHECK(cudaMalloc(&db, b.size()));
  CHECK(cudaMalloc(&dc, c.size() * 4));
  CHECK(cudaMalloc(&d8, c.size() * 4));
  CHECK(cudaMalloc(&d16, c.size() * 4));
  CHECK(cudaMemcpy(da, a.data(), a.size(), cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(db, b.data(), b.size(), cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(dc, c.data(), c.size() * 4, cudaMemcpyHostToDevice));
  probe<<<problems, 32>>>(da, db, dc, d8, d16, k);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  std::vector<float> out8(c.size()), out16(c.size());
  CHECK(cudaMemcpy(out8.data(), d8, c.size() * 4, cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(out16.data(), d16, c.size() * 4, cudaMemcpyDeviceToHost));
  save(dir + "/d_fp8.f32", out8);
  save(dir + "/d_f16.f32", out16);
  for (float* p : {d8, d16, dc}) CHECK(cudaFree(p));
  CHECK(cudaFree(da));
  CHECK(cudaFree(db));
  std::printf("mma_sync_probe: %d problems of 16x8x%d\n", problems, k);
  return 0;
}
