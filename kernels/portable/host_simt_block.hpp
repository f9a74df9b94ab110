// Internal to host_simt.cpp: one emulated thread (a fiber with its wait state) and the runner of
// one block's threads, which resumes them until each has exited or waits on something outside the
// block, and completes their barriers and warp exchanges.
#pragma once

#include <atomic>
#include <boost/context/fiber.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include "kernels/portable/host_simt.hpp"
#include "kernels/portable/host_simt_stacks.hpp"

namespace ulpgate::host_simt::detail {

// ---- one launch -------------------------------------------------------------------------------

// What the blocks of one launch (in a world launch: of one rank) run.
struct KernelRun {
  const Arch* arch;
  LaunchConfig cfg;
  KernelBody body;
  const void* kernel;
  std::optional<unsigned> world_rank;  // set in a world launch: errors name the rank
};

inline Dim3 unflatten(unsigned i, const Dim3& d) { return {i % d.x, i / d.x % d.y, i / (d.x * d.y)}; }

inline std::string dim_str(const Dim3& d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}

inline std::string site_str(const std::source_location& s) {
  const char* file = std::strrchr(s.file_name(), '/');
  return std::string(file ? file + 1 : s.file_name()) + ":" + std::to_string(s.line());
}

inline bool same_site(const std::source_location& a, const std::source_location& b) {
  return a.line() == b.line() && a.column() == b.column() &&
         (a.file_name() == b.file_name() || std::strcmp(a.file_name(), b.file_name()) == 0);
}

inline const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::shfl: return "shfl";
    case WarpOp::shfl_up: return "shfl_up";
    case WarpOp::shfl_down: return "shfl_down";
    case WarpOp::shfl_xor: return "shfl_xor";
    case WarpOp::ballot: return "ballot/any/all";
  }
  return "?";
}

// "1 rank", "4 ranks"
inline std::string count_str(std::size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

inline std::string address_str(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

// Flags may be written by other OS threads (another process's stand-in, a test's writer), so
// every access is atomic: release stores, acquire loads.
inline uint32_t load_flag(const uint32_t* p) {
  return std::atomic_ref<uint32_t>(*const_cast<uint32_t*>(p)).load(std::memory_order_acquire);
}

// ---- threads and blocks -----------------------------------------------------------------------

enum class Wait : uint8_t { running, barrier, warp, flag, exited };

class BlockRunner;

struct SimThread : ThreadState {
  BlockRunner* runner = nullptr;
  ctx::fiber fiber;      // the suspended thread; empty once it exited
  ctx::fiber scheduler;  // the block runner, while this thread runs
  Wait wait = Wait::running;
  std::source_location site;
  WarpOp op = WarpOp::shfl;
  int operand = 0, width = 0;
  uint64_t value = 0, result = 0;
  const uint32_t* flag = nullptr;  // Wait::flag: until *flag == flag_value
  uint32_t flag_value = 0;
  std::string error;      // what the kernel code threw
  bool abandon = false;   // unwind at the next resumption (or, not yet started, never run)
  StackSpan stack, scheduler_stack;
  void* fake_stack = nullptr;

  unsigned lane() const { return rank % unsigned(warp_size); }
  void suspend() {
    asan_leaving(&fake_stack, scheduler_stack);
    scheduler = std::move(scheduler).resume();
    asan_arrived(fake_stack, &scheduler_stack);
    if (abandon) throw Abandoned{};
  }
  bool flag_set() const { return load_flag(flag) == flag_value; }
  std::string state() const {
    switch (wait) {
      case Wait::running: return "running";
      case Wait::exited: return "exited";
      case Wait::barrier: return "wait at block_sync (" + site_str(site) + ")";
      case Wait::warp:
        return "wait at " + std::string(op_name(op)) + " width " + std::to_string(width) + " (" +
               site_str(site) + ")";
      case Wait::flag:
        return "wait at wait_flag (" + site_str(site) + ") for " + std::to_string(flag_value) +
               ", the flag holds " + std::to_string(load_flag(flag));
    }
    return "?";
  }
};

inline SimThread& current() { return static_cast<SimThread&>(*t_current); }

// One block of fibers. start() creates them; run_until_stalled() runs them as far as they can go
// and may be called again once something outside the block changed (a flag).
class BlockRunner {
 public:
  BlockRunner() : shared_(std::make_unique_for_overwrite<std::byte[]>(kMaxSharedBytes)) {}

  // Creates the threads of block b of `run`, stacks from `stacks`; none has run yet. The runner
  // must be idle (its last block exited or abandoned).
  void start(const KernelRun& run, unsigned b, StackArena& stacks) {
    const unsigned n = run.cfg.block.count();
    reserve_threads(n);
    run_ = &run;
    stacks_ = &stacks;
    n_ = n;
    block_idx_ = unflatten(b, run.cfg.grid);
    static_arrays_.clear();
    shared_used_ = run.cfg.shared_bytes;
    std::memset(shared_.get(), 0xff, run.cfg.shared_bytes);
    for (unsigned r = 0; r < n; ++r) start_thread(r);
  }

  // Runs every thread that can run, completing sync points, until each thread has exited or waits
  // at something that cannot complete now. Returns the thread steps taken (0: no progress). A
  // thread's error throws KernelError; the caller then abandons the block.
  uint64_t run_until_stalled() {
    uint64_t steps = 0;
    do {
      for (unsigned r = 0; r < n_; ++r) steps += resume_if_running(threads_[r]);
      throw_thread_error();
    } while (resolve_warp_groups() || release_barrier() || release_flag_waits());
    return steps;
  }

  bool exited() const {
    for (unsigned r = 0; r < n_; ++r)
      if (threads_[r].wait != Wait::exited) return false;
    return true;
  }
  bool waits_on_flag() const { return first_waiting(Wait::flag) != nullptr; }

  // After an error: every thread still alive unwinds its stack (destructors run) and exits; one
  // that never ran exits without running the kernel.
  void abandon() {
    for (unsigned r = 0; r < n_; ++r) {
      SimThread& t = threads_[r];
      if (!t.fiber) continue;
      t.abandon = true;
      resume(t);
    }
  }

  // The stalled block as a kernel error (launch() reports it so).
  std::string diagnose() const { return "kernel error in " + stall_report(); }

  // Why nothing can complete: a flag wait, else the first stuck warp group, else the barrier.
  std::string stall_report() const {
    if (const SimThread* t = first_waiting(Wait::flag))
      return block_name() + ": wait_flag at " + site_str(t->site) + " waits for " +
             std::to_string(t->flag_value) + ", the flag holds " +
             std::to_string(load_flag(t->flag)) + ": " + describe(0, n_);
    if (const SimThread* t = first_waiting(Wait::warp)) {
      const unsigned start = group_start(*t), end = start + unsigned(t->width);
      return block_name() + ": " + op_name(t->op) + " (width " + std::to_string(t->width) +
             ") at " + site_str(t->site) + " is not reached by every lane of its group (warp " +
             std::to_string(t->rank / unsigned(t->warp_size)) + ", threads " +
             std::to_string(start) + "-" + std::to_string(end - 1) + "): " + describe(start, end);
    }
    if (const SimThread* t = first_waiting(Wait::barrier))
      return block_name() + ": block_sync at " + site_str(t->site) +
             " is not reached by every thread of the block: " + describe(0, n_);
    return block_name() + ": no thread can make progress: " + describe(0, n_);
  }

  void* static_shared(const void* tag, std::size_t bytes) {
    for (const auto& [t, p] : static_arrays_)
      if (t == tag) return p;
    const std::size_t at = (shared_used_ + 15) / 16 * 16;
    if (at + bytes > kMaxSharedBytes)
      throw KernelError("shared memory of the block exceeds " + std::to_string(kMaxSharedBytes) +
                        " bytes");
    void* p = shared_.get() + at;
    std::memset(p, 0xff, bytes);  // poison: reading before writing gives NaN, not zero
    shared_used_ = at + bytes;
    static_arrays_.emplace_back(tag, p);
    return p;
  }
  void* dynamic_shared() { return shared_.get(); }

 private:
  // Thread records for n threads (reallocated only between blocks: fibers point into them).
  void reserve_threads(unsigned n) {
    if (n <= capacity_) return;
    threads_ = std::make_unique<SimThread[]>(n);
    capacity_ = n;
  }

  void start_thread(unsigned r) {
    SimThread& t = threads_[r];
    const KernelRun& run = *run_;
    t.thread_idx = unflatten(r, run.cfg.block);
    t.block_idx = block_idx_;
    t.block_dim = run.cfg.block;
    t.grid_dim = run.cfg.grid;
    t.rank = r;
    t.warp_size = run.arch->warp_size;
    t.arch = run.arch;
    t.world_rank = run.world_rank.value_or(0);
    t.runner = this;
    t.wait = Wait::running;
    t.error.clear();
    t.abandon = false;
    t.fiber = ctx::fiber(std::allocator_arg, ArenaAllocator{stacks_, &t.stack},
                         [&t, &run](ctx::fiber&& scheduler) {
                           asan_arrived(nullptr, &t.scheduler_stack);
                           t.scheduler = std::move(scheduler);
                           if (!t.abandon) run_kernel(t, run);
                           t.wait = Wait::exited;
                           asan_leaving(nullptr, t.scheduler_stack);  // this stack is done
                           return std::move(t.scheduler);
                         });
  }

  static void run_kernel(SimThread& t, const KernelRun& run) {
    try {
      run.body(run.kernel);
    } catch (const Abandoned&) {
    } catch (const ctx::detail::forced_unwind&) {
      throw;  // Boost.Context unwinding a destroyed fiber
    } catch (const std::exception& e) {
      t.error = e.what();
    } catch (...) {
      t.error = "unknown exception";
    }
  }

  unsigned resume_if_running(SimThread& t) {
    if (t.wait != Wait::running) return 0;
    resume(t);
    return 1;
  }

  void resume(SimThread& t) {
    t_current = &t;
    void* fake_stack = nullptr;
    asan_leaving(&fake_stack, t.stack);
    t.fiber = std::move(t.fiber).resume();
    asan_arrived(fake_stack, nullptr);
    t_current = nullptr;
    if (!stacks_->intact_below(t.stack.bottom)) stack_overflow(t);
  }

  // The fence below a stack was overwritten: the fiber of the slot beneath may be corrupt, so
  // nothing can be unwound safely (as with a guard page's fault, the process ends).
  [[noreturn]] void stack_overflow(const SimThread& t) const {
    std::fprintf(stderr,
                 "host_simt: %s, thread %u overflowed its %zu-byte fiber stack; the stack below "
                 "it may be corrupt, aborting\n",
                 block_name().c_str(), t.rank, t.stack.size);
    std::abort();
  }

  std::string block_name() const {
    const std::string rank = run_->world_rank ? "rank " + std::to_string(*run_->world_rank) + " " : "";
    return rank + "block " + dim_str(block_idx_);
  }

  void throw_thread_error() const {
    for (unsigned r = 0; r < n_; ++r)
      if (!threads_[r].error.empty())
        throw KernelError(block_name() + ", thread " + std::to_string(r) + " " +
                          dim_str(threads_[r].thread_idx) + ": " + threads_[r].error);
  }

  const SimThread* first_waiting(Wait wait) const {
    for (unsigned r = 0; r < n_; ++r)
      if (threads_[r].wait == wait) return &threads_[r];
    return nullptr;
  }

  // Whether threads a and b wait at the same warp operation.
  bool same_warp_op(const SimThread& a, const SimThread& b) const {
    return b.wait == Wait::warp && b.op == a.op && b.width == a.width && same_site(a.site, b.site);
  }

  // First rank of t's width-group (the group may reach past the block's last thread).
  static unsigned group_start(const SimThread& t) {
    return t.rank - t.lane() + (t.lane() & ~unsigned(t.width - 1));
  }

  bool group_complete(unsigned start) const {
    const SimThread& lead = threads_[start];
    if (start + unsigned(lead.width) > n_) return false;
    for (unsigned r = start; r < start + unsigned(lead.width); ++r)
      if (!same_warp_op(lead, threads_[r])) return false;
    return true;
  }

  // The rank whose value lane t reads (CUDA/HIP rules: out-of-group sources read their own).
  unsigned source_of(const SimThread& t) const {
    const unsigned w = unsigned(t.width), lane = t.lane(), start = lane & ~(w - 1);
    const unsigned warp_base = t.rank - lane;
    unsigned src = lane;
    switch (t.op) {
      case WarpOp::shfl: src = start + (unsigned(t.operand) & (w - 1)); break;
      case WarpOp::shfl_up: src = int(lane) - t.operand < int(start) ? lane : lane - t.operand; break;
      case WarpOp::shfl_down: src = lane + t.operand >= start + w ? lane : lane + t.operand; break;
      case WarpOp::shfl_xor: src = (lane ^ unsigned(t.operand)) >= start + w ? lane : lane ^ t.operand; break;
      case WarpOp::ballot: break;
    }
    return warp_base + src;
  }

  uint64_t result_of(const SimThread& t) const {
    if (t.op == WarpOp::ballot) {
      uint64_t bits = 0;
      const unsigned start = group_start(t);
      for (unsigned i = 0; i < unsigned(t.width); ++i)
        bits |= uint64_t(threads_[start + i].value != 0) << i;
      return bits;
    }
    const unsigned src = source_of(t);
    if (src >= n_ || !same_warp_op(t, threads_[src]))
      throw KernelError(block_name() + ": " + op_name(t.op) + " at " + site_str(t.site) +
                        ": thread " + std::to_string(t.rank) + " reads thread " +
                        std::to_string(src) + ", which does not take part");
    return threads_[src].value;
  }

  // Completes every width-group whose lanes all wait at the same warp operation.
  bool resolve_warp_groups() {
    std::vector<unsigned>& ready = ready_groups_;
    ready.clear();
    for (unsigned r = 0; r < n_; ++r) {
      const SimThread& t = threads_[r];
      if (t.wait == Wait::warp && group_start(t) == r && group_complete(r)) ready.push_back(r);
    }
    for (unsigned start : ready)
      for (unsigned r = start; r < start + unsigned(threads_[start].width); ++r)
        threads_[r].result = result_of(threads_[r]);
    for (unsigned start : ready)
      for (unsigned r = start; r < start + unsigned(threads_[start].width); ++r)
        threads_[r].wait = Wait::running;
    return !ready.empty();
  }

  bool release_barrier() {
    for (unsigned r = 0; r < n_; ++r)
      if (threads_[r].wait != Wait::barrier || !same_site(threads_[r].site, threads_[0].site))
        return false;
    for (unsigned r = 0; r < n_; ++r) threads_[r].wait = Wait::running;
    return true;
  }

  // Wakes every thread whose flag now holds the value it waits for.
  bool release_flag_waits() {
    bool released = false;
    for (unsigned r = 0; r < n_; ++r) {
      SimThread& t = threads_[r];
      if (t.wait != Wait::flag || !t.flag_set()) continue;
      t.wait = Wait::running;
      released = true;
    }
    return released;
  }

  // "threads 0-4 wait at block_sync (k.cpp:12); threads 5-31 exited"
  std::string describe(unsigned from, unsigned to) const {
    std::string out;
    unsigned r = from;
    while (r < to && r < n_) {
      const std::string s = threads_[r].state();
      unsigned e = r + 1;
      while (e < to && e < n_ && threads_[e].state() == s) ++e;
      out += (out.empty() ? "" : "; ") + std::string(e - r > 1 ? "threads " : "thread ") +
             std::to_string(r) + (e - r > 1 ? "-" + std::to_string(e - 1) : "") + " " + s;
      r = e;
    }
    if (to > n_)
      out += "; threads " + std::to_string(n_) + "-" + std::to_string(to - 1) +
             " do not exist (the block has " + std::to_string(n_) + " threads)";
    return out;
  }

  std::unique_ptr<SimThread[]> threads_;
  unsigned capacity_ = 0, n_ = 0;
  const KernelRun* run_ = nullptr;
  StackArena* stacks_ = nullptr;
  std::unique_ptr<std::byte[]> shared_;
  std::size_t shared_used_ = 0;
  std::vector<std::pair<const void*, void*>> static_arrays_;
  std::vector<unsigned> ready_groups_;
  Dim3 block_idx_;
};

}  // namespace ulpgate::host_simt::detail
