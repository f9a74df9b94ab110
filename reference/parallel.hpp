// Work split over the machine's cores, for loops whose iterations are independent (each writes
// its own elements), so that the result does not depend on the split.
#pragma once

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace ulpgate {

// Runs fn(begin, end) over [0, n) in contiguous chunks on every hardware thread.
template <class Fn>
void parallel_for(int64_t n, Fn fn) {
  const int64_t threads = std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, std::max<int64_t>(n, 1));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(fn, n * t / threads, n * (t + 1) / threads);
  fn(int64_t(0), n / threads);
  for (auto& th : pool) th.join();
}

// The same for loops too short to pay for starting threads (below `serial` iterations: here).
template <class Fn>
void parallel_for_large(int64_t n, int64_t serial, Fn fn) {
  if (n < serial) return fn(int64_t(0), n);
  parallel_for(n, fn);
}

// fn(i) for every i in [0, n), split as parallel_for_large: for loops whose iteration i writes
// only its own outputs.
template <class Fn>
void parallel_for_each(int64_t n, int64_t serial, Fn fn) {
  parallel_for_large(n, serial, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) fn(i);
  });
}

}  // namespace ulpgate
