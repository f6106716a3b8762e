// lowbit/parallel.hpp — options for large dequantize calls: threads (lowbit's or the caller's own pool)
// and how results are stored.
//
//   lowbit::options opt;
//   opt.bits = 4;
//   opt.group_size = 64;
//   opt.threads = 0;                              // one per hardware thread
//   lowbit::dequantize(wq, scales, biases, out, rows, cols, opt);
//
//   // Or run the work on your own pool: lowbit hands over `count` independent tasks.
//   opt.executor = [&](std::size_t count, const std::function<void(std::size_t, std::size_t)>& task) {
//     my_pool.parallel_for(0, count, [&](std::size_t i) { task(i, i + 1); });   // returns when all are done
//   };
//
// The result is bit-identical whatever the threads, executor or store policy: the matrix is split at group
// boundaries and every group is computed the same way.
#ifndef LOWBIT_PARALLEL_HPP
#define LOWBIT_PARALLEL_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "config.hpp"
#include "format.hpp"

namespace lowbit {

/// Runs task(begin, end) over sub-ranges covering [0, count), possibly in parallel, and returns when all
/// have finished. Any split is correct: the tasks are independent.
using parallel_for = std::function<void(std::size_t count, const std::function<void(std::size_t, std::size_t)>& task)>;

/// How dequantize writes its output.
enum class store_policy {
  automatic,  ///< streaming stores for outputs of at least LOWBIT_STREAMING_THRESHOLD bytes, else regular
  regular,    ///< ordinary stores: the result stays in cache
  streaming,  ///< non-temporal stores where the backend has them (x86), ordinary ones elsewhere
};

/// Options of the dequantize overloads that take them (affine and fp modes).
struct options {
  int bits = default_bits;              ///< affine only: an fp mode fixes its own
  int group_size = default_group_size;  ///< affine only
  /// Threads lowbit starts for this call (the caller's thread is one of them); 0 means one per hardware
  /// thread. Fewer are used when the matrix is small (LOWBIT_MIN_ELEMENTS_PER_THREAD).
  unsigned threads = 1;
  /// If set, the work is handed to this executor instead of lowbit's own threads (threads is ignored).
  parallel_for executor;
  store_policy stores = store_policy::automatic;
};

}  // namespace lowbit

LOWBIT_BEGIN_NAMESPACE
namespace detail {

// lowbit's own executor: `threads` contiguous ranges, the first on the calling thread, the rest on
// std::threads started for this call.
inline void run_on_threads(unsigned threads, std::size_t count, const std::function<void(std::size_t, std::size_t)>& task) {
  if (threads <= 1 || count <= 1) {
    task(0, count);
    return;
  }
  const std::size_t n = threads < count ? threads : count;
  std::vector<std::thread> workers;
  workers.reserve(n - 1);
  for (std::size_t t = 1; t < n; ++t) {
    workers.emplace_back([&task, t, n, count] { task(count * t / n, count * (t + 1) / n); });
  }
  task(0, count / n);
  for (auto& w : workers) w.join();
}

// How many threads a call of `elements` outputs gets.
inline unsigned thread_count(unsigned requested, std::size_t elements) noexcept {
  unsigned threads = requested != 0 ? requested : std::thread::hardware_concurrency();
  if (threads == 0) threads = 1;
  const std::size_t useful = elements / LOWBIT_MIN_ELEMENTS_PER_THREAD;
  if (useful < threads) threads = useful == 0 ? 1u : static_cast<unsigned>(useful);
  return threads;
}

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_PARALLEL_HPP
