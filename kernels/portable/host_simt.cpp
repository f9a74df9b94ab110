#include "kernels/portable/host_simt.hpp"

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "kernels/portable/host_simt_block.hpp"

namespace ulpgate::host_simt {

thread_local constinit ThreadState* t_current = nullptr;

using namespace detail;  // the threads and blocks (host_simt_block.hpp), their stacks (host_simt_stacks.hpp)

namespace {


// ---- the worker pool --------------------------------------------------------------------------

struct Job {
  KernelRun run;
  unsigned blocks;
  std::atomic<unsigned> next_block{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;  // guards what follows
  unsigned error_block = ~0u;
  std::string error;
  LaunchStats stats;
};

// A worker's blocks: one at a time, each to its end, on stacks guarded by pages.
class BlockWorker {
 public:
  void run_blocks(Job& job) {
    if (!stacks_)
      stacks_ = std::make_unique<StackArena>(kStackBytes, kMaxBlockThreads, StackGuard::page);
    LaunchStats stats;
    while (!job.failed.load(std::memory_order_relaxed)) {
      const unsigned b = job.next_block.fetch_add(1);
      if (b >= job.blocks) break;
      try {
        stats.thread_steps += run_block(job.run, b);
        ++stats.blocks;
      } catch (const std::exception& e) {
        std::lock_guard lock(job.mutex);
        if (b < job.error_block) job.error_block = b, job.error = e.what();
        job.failed = true;
      }
    }
    std::lock_guard lock(job.mutex);
    job.stats.thread_steps += stats.thread_steps;
    job.stats.blocks += stats.blocks;
  }

 private:
  // Blocks of one launch are not co-resident here: a block that stalls is deadlocked.
  uint64_t run_block(const KernelRun& run, unsigned b) {
    runner_.start(run, b, *stacks_);
    try {
      const uint64_t steps = runner_.run_until_stalled();
      if (!runner_.exited()) throw KernelError(runner_.diagnose());
      return steps;
    } catch (...) {
      runner_.abandon();
      throw;
    }
  }

  BlockRunner runner_;  // its threads, stacks and shared memory persist across launches
  std::unique_ptr<StackArena> stacks_;
};

void after_fork_in_child(void (*handler)()) {
  if (const int rc = pthread_atfork(nullptr, nullptr, handler); rc != 0)
    throw std::system_error(rc, std::generic_category(), "pthread_atfork");
}

class WorkerPool {
 public:
  static WorkerPool& instance() {
    static WorkerPool pool;
    static const bool forks_start_afresh = (after_fork_in_child(&start_afresh), true);
    (void)forks_start_afresh;
    return pool;
  }

  void set_size(unsigned n) {
    std::lock_guard launch(launch_mutex_);
    stop_workers();
    size_ = n == 0 ? 1 : n;
  }
  unsigned size() const { return size_; }

  void run(Job& job) {
    std::lock_guard launch(launch_mutex_);
    if (workers_.size() != size_) start_workers();
    std::unique_lock lock(mutex_);
    job_ = &job;
    active_ = unsigned(workers_.size());
    ++generation_;
    work_cv_.notify_all();
    done_cv_.wait(lock, [&] { return active_ == 0; });
    job_ = nullptr;
  }

 private:
  WorkerPool() : size_(std::max(1u, std::thread::hardware_concurrency())) {}
  explicit WorkerPool(unsigned size) : size_(size) {}

  // fork copies only the calling thread: a child (a case's process under --isolate) would wait
  // forever for workers that stayed in the parent, or on a lock one of them held. It gets a pool
  // of its own, built over the copy without destroying it (that would join threads it does not
  // have; what the copy owned is left behind).
  static void start_afresh() {
    WorkerPool& pool = instance();
    const unsigned size = pool.size_;
    ::new (static_cast<void*>(&pool)) WorkerPool(size);
  }

  void start_workers() {
    stop_workers();
    for (unsigned i = 0; i < size_; ++i)
      workers_.emplace_back([this, seen = generation_](std::stop_token stop) { work(stop, seen); });
  }
  void stop_workers() {
    for (auto& w : workers_) w.request_stop();
    workers_.clear();  // joins
  }

  // seen: the last launch before this worker started (generation_ only changes under
  // launch_mutex_, which start_workers holds).
  void work(std::stop_token stop, uint64_t seen) {
    BlockWorker worker;  // its stacks and shared memory persist across launches
    for (;;) {
      Job* job = nullptr;
      {
        std::unique_lock lock(mutex_);
        if (!work_cv_.wait(lock, stop, [&] { return generation_ != seen; })) return;
        seen = generation_;
        job = job_;
      }
      worker.run_blocks(*job);
      std::lock_guard lock(mutex_);
      if (--active_ == 0) done_cv_.notify_all();
    }
  }

  std::mutex launch_mutex_;  // one launch at a time
  std::mutex mutex_;
  std::condition_variable_any work_cv_;
  std::condition_variable done_cv_;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  unsigned active_ = 0;
  unsigned size_;
  std::vector<std::jthread> workers_;
};

void validate(const Arch& arch, const LaunchConfig& cfg) {
  auto bad = [](const std::string& why) { throw std::invalid_argument("host launch: " + why); };
  if (arch.warp_size != 32 && arch.warp_size != 64)
    bad("warp size " + std::to_string(arch.warp_size) + " (must be 32 or 64)");
  if (cfg.grid.count() == 0) bad("empty grid " + dim_str(cfg.grid));
  if (cfg.block.count() == 0 || cfg.block.count() > kMaxBlockThreads)
    bad("block " + dim_str(cfg.block) + " must have 1.." + std::to_string(kMaxBlockThreads) +
        " threads");
  if (cfg.shared_bytes > kMaxSharedBytes)
    bad(std::to_string(cfg.shared_bytes) + " bytes of dynamic shared memory (max " +
        std::to_string(kMaxSharedBytes) + ")");
}

void validate_world(std::span<const void* const> kernels, const WorldOptions& options) {
  auto bad = [](const std::string& why) { throw std::invalid_argument("host launch_world: " + why); };
  if (kernels.empty()) bad("no ranks (a world needs at least one)");
  for (std::size_t r = 0; r < kernels.size(); ++r)
    if (!kernels[r]) bad("rank " + std::to_string(r) + " has no kernel (a null functor pointer)");
  for (std::size_t i = 0; i < options.regions.size(); ++i) {
    const RankRegion& region = options.regions[i];
    const std::string name =
        "region " + std::to_string(i) + " (rank " + std::to_string(region.rank) + ")";
    if (region.rank >= kernels.size())
      bad(name + ": the world has only " + std::to_string(kernels.size()) + " ranks");
    if (!region.begin || region.bytes == 0) bad(name + " is empty");
  }
  if (options.patience.count() < 0) bad("negative patience");
}

// ---- the world launch ---------------------------------------------------------------------------

// The blocks and stacks of one OS thread's world launches, kept for the next: a world needs all
// its blocks at once, so it cannot use the workers' one block each. Only one world runs on a
// thread at a time, so nothing here is shared.
class WorldPool {
 public:
  // `count` idle block runners.
  std::span<const std::unique_ptr<BlockRunner>> runners(std::size_t count) {
    while (runners_.size() < count) runners_.push_back(std::make_unique<BlockRunner>());
    return {runners_.data(), count};
  }
  // A fenced arena of at least `fibers` stacks (remapped when smaller: no fiber lives between
  // world launches).
  StackArena& stacks(std::size_t fibers) {
    if (!stacks_ || stacks_->slots() < fibers) {
      stacks_.reset();
      stacks_ = std::make_unique<StackArena>(kStackBytes, fibers, StackGuard::fence);
    }
    return *stacks_;
  }

 private:
  std::vector<std::unique_ptr<BlockRunner>> runners_;
  std::unique_ptr<StackArena> stacks_;
};

WorldPool& world_pool() {
  thread_local WorldPool pool;
  return pool;
}

class World;
thread_local constinit const World* t_world = nullptr;  // the world this OS thread runs

// One world launch: every rank's blocks, run pass after pass on the calling thread.
class World {
 public:
  World(const Arch& arch, const LaunchConfig& cfg, KernelBody body,
        std::span<const void* const> kernels, const WorldOptions& options)
      : options_(options), grid_(cfg.grid.count()), live_blocks_(kernels.size(), grid_),
        rank_exited_(kernels.size(), false) {
    for (unsigned r = 0; r < kernels.size(); ++r)
      ranks_.push_back({&arch, cfg, body, kernels[r], r});
  }

  LaunchStats run() {
    const unsigned ranks = unsigned(ranks_.size());
    WorldPool& pool = world_pool();
    StackArena& stacks = pool.stacks(std::size_t(ranks) * grid_ * ranks_[0].cfg.block.count());
    blocks_ = pool.runners(std::size_t(ranks) * grid_);
    block_exited_.assign(blocks_.size(), false);
    const Running running(*this);
    LaunchStats stats;
    try {
      for (std::size_t i = 0; i < blocks_.size(); ++i)
        blocks_[i]->start(ranks_[i / grid_], unsigned(i % grid_), stacks);
      Stall stall;
      while (exited_ranks_ < ranks) {
        if (run_pass(stats)) {
          stall.active = false;
          continue;
        }
        if (!keep_polling(stall)) throw KernelError(deadlock_report());
        std::this_thread::sleep_for(kPollInterval);
      }
    } catch (...) {
      abandon();
      throw;
    }
    stats.blocks = blocks_.size();
    return stats;
  }

  // The hook of load16/store16: p must not lie in a region whose owner rank has exited.
  void check_access(const void* p, const char* what) const {
    if (exited_ranks_ == 0) return;
    const auto at = reinterpret_cast<uintptr_t>(p);
    for (const RankRegion& region : options_.regions) {
      const auto begin = reinterpret_cast<uintptr_t>(region.begin);
      if (!rank_exited_[region.rank] || at < begin || at - begin >= region.bytes) continue;
      const std::string owner = "rank " + std::to_string(region.rank);
      throw KernelError(std::string(what) + " of " + owner + "'s region at offset " +
                        std::to_string(at - begin) + " after every block of " + owner +
                        " exited: nothing orders this access before " + owner +
                        "'s kernel returned (a missing end barrier)");
    }
  }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kPollInterval = std::chrono::microseconds(100);
  // The load16/store16 hook sees this world while it runs (fibers unwinding included).
  struct Running {
    explicit Running(const World& w) { t_world = &w; }
    ~Running() { t_world = nullptr; }
  };
  struct Stall {  // since when no pass made progress
    bool active = false;
    Clock::time_point since{};
  };

  // One pass over every live block, rank by rank, each as far as it can go; whether any moved.
  bool run_pass(LaunchStats& stats) {
    bool progressed = false;
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      if (block_exited_[i]) continue;
      const uint64_t steps = blocks_[i]->run_until_stalled();
      stats.thread_steps += steps;
      progressed |= steps > 0;
      if (blocks_[i]->exited()) note_block_exited(i);
    }
    return progressed;
  }

  void note_block_exited(std::size_t i) {
    block_exited_[i] = true;
    const std::size_t rank = i / grid_;
    if (--live_blocks_[rank] > 0) return;
    rank_exited_[rank] = true;
    ++exited_ranks_;
  }

  // Whether a stalled world polls again: another process may still set a flag it waits for.
  bool keep_polling(Stall& stall) const {
    if (options_.patience.count() == 0 || !any_flag_wait()) return false;
    const auto now = Clock::now();
    if (!stall.active) stall = {true, now};
    return now - stall.since < options_.patience;
  }

  bool any_flag_wait() const {
    for (std::size_t i = 0; i < blocks_.size(); ++i)
      if (!block_exited_[i] && blocks_[i]->waits_on_flag()) return true;
    return false;
  }

  // A block stuck with no thread waiting for a flag cannot proceed whatever the others do (a
  // block_sync or warp op misuse): it is reported as launch() reports it. Otherwise the world is
  // deadlocked on its flags: the first stuck block is named.
  std::string deadlock_report() const {
    const BlockRunner* first = nullptr;
    std::size_t stuck = 0;
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      if (block_exited_[i]) continue;
      if (!blocks_[i]->waits_on_flag()) return blocks_[i]->diagnose();
      if (!first) first = blocks_[i].get();
      ++stuck;
    }
    const std::string waited =
        options_.patience.count() > 0
            ? " after polling the flags for " + std::to_string(options_.patience.count()) + " ms"
            : "";
    return "kernel error: deadlock in a world of " + count_str(ranks_.size(), "rank") +
           ": no block can make progress" + waited + " (" + count_str(stuck, "block") +
           " stuck); the first: " + first->stall_report();
  }

  // After an error: every block's live threads unwind (a block that exited has none).
  void abandon() {
    for (const auto& block : blocks_) block->abandon();
  }

  const WorldOptions& options_;
  std::size_t grid_;
  std::vector<KernelRun> ranks_;
  // Rank-major: rank r's block b at r * grid_ + b.
  std::span<const std::unique_ptr<BlockRunner>> blocks_;
  std::vector<bool> block_exited_;
  std::vector<std::size_t> live_blocks_;  // per rank
  std::vector<bool> rank_exited_;
  unsigned exited_ranks_ = 0;
};

}  // namespace

// ---- the hooks device.hpp calls -----------------------------------------------------------------

void block_sync(const std::source_location& site) {
  SimThread& t = current();
  t.wait = Wait::barrier;
  t.site = site;
  t.suspend();
}

uint64_t warp_exchange(WarpOp op, uint64_t value, int operand, int width,
                       const std::source_location& site) {
  SimThread& t = current();
  if (width < 1 || width > t.warp_size || (width & (width - 1)) != 0)
    throw KernelError(std::string(op_name(op)) + " at " + site_str(site) + ": width " +
                      std::to_string(width) + " is not a power of two <= the warp size " +
                      std::to_string(t.warp_size));
  t.wait = Wait::warp;
  t.site = site;
  t.op = op;
  t.operand = operand;
  t.width = width;
  t.value = value;
  t.suspend();
  return t.result;
}

void* static_shared(const void* tag, std::size_t bytes) {
  return current().runner->static_shared(tag, bytes);
}

void* dynamic_shared() { return current().runner->dynamic_shared(); }

void check_vector_access(const void* p, const char* what) {
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0)
    throw KernelError(std::string(what) + " of a misaligned address " + address_str(p) +
                      " (16-byte vector access)");
  if (t_world) t_world->check_access(p, what);
}

namespace {
// A flag is a naturally aligned 32-bit word (std::atomic_ref and the GPUs' atomics need that).
void check_flag_address(const uint32_t* p, const std::string& what) {
  if (!p || reinterpret_cast<uintptr_t>(p) % alignof(uint32_t) != 0)
    throw KernelError(what + " of a null or misaligned flag address " + address_str(p));
}
}  // namespace

void store_flag(uint32_t* p, uint32_t v) {
  check_flag_address(p, "store_flag");
  std::atomic_ref<uint32_t>(*p).store(v, std::memory_order_release);
}

void wait_flag(const uint32_t* p, uint32_t v, const std::source_location& site) {
  check_flag_address(p, "wait_flag at " + site_str(site));
  if (load_flag(p) == v) return;  // already set: nothing to wait for
  if (!t_current)
    throw std::logic_error("dev::wait_flag at " + site_str(site) + " outside a kernel launch");
  SimThread& t = current();
  t.wait = Wait::flag;
  t.site = site;
  t.flag = p;
  t.flag_value = v;
  t.suspend();
}

LaunchStats launch_erased(const Arch& arch, const LaunchConfig& cfg, KernelBody body,
                          const void* kernel) {
  validate(arch, cfg);
  Job job;
  job.run = {&arch, cfg, body, kernel, std::nullopt};
  job.blocks = cfg.grid.count();
  WorkerPool::instance().run(job);
  if (job.failed) throw KernelError(job.error);
  return job.stats;
}

LaunchStats launch_world_erased(const Arch& arch, const LaunchConfig& cfg, KernelBody body,
                                std::span<const void* const> kernels, const WorldOptions& options) {
  validate(arch, cfg);
  validate_world(kernels, options);
  if (t_world) throw std::logic_error("host launch_world: called from kernel code of a world launch");
  World world(arch, cfg, body, kernels, options);
  return world.run();
}

void set_worker_count(unsigned workers) { WorkerPool::instance().set_size(workers); }
unsigned worker_count() { return WorkerPool::instance().size(); }

}  // namespace ulpgate::host_simt
