// Threads, executors and store policies change nothing in the result: every split is bit-identical to
// the single-threaded call with regular stores, nothing is written outside the output, and an executor
// of the caller's gets independent tasks that cover the matrix.
#define LOWBIT_MIN_ELEMENTS_PER_THREAD 4096  // split even small test matrices
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <future>
#include <limits>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace {

using lowbit_test::bit_equal;
using lowbit_test::random_source;

template <class S, class O>
void check_policies(int bits, int group_size, std::size_t rows, std::size_t cols) {
  random_source rs(static_cast<std::uint64_t>(bits * 7 + group_size));
  const auto wq = rs.words(rows * cols * bits / 32);
  auto scales = rs.normal<S>(rows * cols / group_size, 0.02f);
  const auto biases = rs.normal<S>(rows * cols / group_size, 0.2f);
  scales[scales.size() / 2] = lowbit_test::from_float<S>(std::numeric_limits<float>::infinity());  // scalar path
  const std::size_t n = rows * cols;

  lowbit::options base;
  base.bits = bits;
  base.group_size = group_size;
  base.stores = lowbit::store_policy::regular;
  std::vector<O> want(n);
  lowbit::dequantize(wq.data(), scales.data(), biases.data(), want.data(), rows, cols, base);

  const std::string config = "bits " + std::to_string(bits) + ", group_size " + std::to_string(group_size) + ", " +
                             lowbit::detail::type_name<S>() + " -> " + lowbit::detail::type_name<O>();
  for (auto stores : {lowbit::store_policy::regular, lowbit::store_policy::streaming, lowbit::store_policy::automatic}) {
    for (unsigned threads : {1u, 2u, 3u, 0u}) {
      // Outputs from a 64-byte boundary (kernels that stream straight from registers), and misaligned
      // ones (the streaming copy's head and tail).
      for (std::size_t offset : {0u, 1u, 5u}) {
        lowbit::options opt = base;
        opt.stores = stores;
        opt.threads = threads;
        const O sentinel = lowbit_test::from_float<O>(-7.0f);
        std::vector<O> storage(n + offset + 8 + 64, sentinel);
        const std::size_t skip = (64 - reinterpret_cast<std::uintptr_t>(storage.data()) % 64) % 64 / sizeof(O);
        O* const buffer = storage.data() + skip;  // 64-byte aligned
        const std::size_t size = n + offset + 8;
        lowbit::dequantize(wq.data(), scales.data(), biases.data(), buffer + offset, rows, cols, opt);
        const std::string what = config + ", threads " + std::to_string(threads) + ", store policy " +
                                 std::to_string(static_cast<int>(stores)) + ", offset " + std::to_string(offset);
        ASSERT_TRUE(bit_equal(buffer + offset, want.data(), n, what));
        for (std::size_t i = 0; i < offset; ++i) ASSERT_EQ(lowbit_test::bits_of(buffer[i]), lowbit_test::bits_of(sentinel));
        for (std::size_t i = n + offset; i < size; ++i) {
          ASSERT_EQ(lowbit_test::bits_of(buffer[i]), lowbit_test::bits_of(sentinel)) << what << ": wrote past the end";
        }
      }
    }
  }
}

TEST(Parallel, ThreadsAndStorePoliciesAreBitIdentical) {
  check_policies<float, float>(4, 64, 67, 1024);
  check_policies<lowbit::half, lowbit::half>(3, 32, 33, 2048);
  check_policies<lowbit::bfloat16, float>(6, 128, 9, 4096);
  check_policies<lowbit::half, lowbit::bfloat16>(8, 64, 1, 64 * 700);  // one long row: split inside a row
  check_policies<lowbit::bfloat16, lowbit::bfloat16>(4, 32, 17, 1024);  // 4 bits: byte tables on AVX2
  check_policies<lowbit::half, float>(4, 64, 17, 1024);
}

TEST(Parallel, CallersExecutorGetsTasksCoveringTheMatrix) {
  const std::size_t rows = 300, cols = 1024;
  random_source rs(3);
  const auto wq = rs.words(rows * cols / 8);
  const auto scales = rs.normal<lowbit::half>(rows * cols / 64, 0.02f);
  const auto biases = rs.normal<lowbit::half>(rows * cols / 64, 0.2f);
  std::vector<lowbit::half> want(rows * cols), got(rows * cols);
  lowbit::dequantize(wq.data(), scales.data(), biases.data(), want.data(), rows, cols);

  std::atomic<std::size_t> calls{0}, covered{0};
  std::size_t reported = 0;
  lowbit::options opt;
  opt.executor = [&](std::size_t count, const std::function<void(std::size_t, std::size_t)>& task) {
    reported = count;
    std::vector<std::future<void>> pending;  // one task per index, in reverse order, on other threads
    for (std::size_t i = count; i-- > 0;) {
      pending.push_back(std::async(std::launch::async, [&, i] {
        task(i, i + 1);
        ++calls;
        ++covered;
      }));
    }
    for (auto& p : pending) p.get();
  };
  lowbit::dequantize(wq.data(), scales.data(), biases.data(), got.data(), rows, cols, opt);
  EXPECT_GT(reported, 1u) << "a 300 x 1024 matrix is worth more than one task";
  EXPECT_EQ(calls.load(), reported);
  EXPECT_TRUE(bit_equal(got, want, "executor with reversed single-index tasks"));
}

// The floating-point modes take the same options: threads and an executor of the caller's give the plain
// call's bits (bits and group_size in the options are not the fp modes' business).
template <class O>
void check_fp_threads(lowbit::mode m, const float* global_scale) {
  const std::size_t rows = 37, cols = 2048;
  random_source rs(static_cast<std::uint64_t>(m) + 5);
  const auto wq = rs.words(rows * cols * static_cast<std::size_t>(lowbit::mode_bits(m)) / 32);
  std::vector<std::uint8_t> scales(rows * cols / static_cast<std::size_t>(lowbit::mode_group_size(m)));
  for (std::size_t g = 0; g < scales.size(); ++g) scales[g] = static_cast<std::uint8_t>(rs.engine() % 20 + 115);
  scales[3] = 255;  // a non-finite group: the scalar reference inside a split
  std::vector<O> want(rows * cols);
  lowbit::dequantize(m, wq.data(), scales.data(), want.data(), rows, cols, global_scale);
  const std::string mode = lowbit::mode_name(m) + std::string(" -> ") + lowbit::detail::type_name<O>();
  for (unsigned threads : {2u, 3u}) {
    lowbit::options opt;
    opt.threads = threads;
    opt.bits = 7;  // not used
    std::vector<O> got(rows * cols);
    lowbit::dequantize(m, wq.data(), scales.data(), got.data(), rows, cols, opt, global_scale);
    EXPECT_TRUE(bit_equal(got, want, mode + ", threads " + std::to_string(threads)));
  }
  std::atomic<std::size_t> tasks{0};
  lowbit::options opt;
  opt.executor = [&](std::size_t count, const std::function<void(std::size_t, std::size_t)>& task) {
    std::vector<std::future<void>> pending;
    for (std::size_t i = count; i-- > 0;) pending.push_back(std::async(std::launch::async, [&, i] { task(i, i + 1); ++tasks; }));
    for (auto& p : pending) p.get();
  };
  std::vector<O> got(rows * cols);
  lowbit::dequantize(m, wq.data(), scales.data(), got.data(), rows, cols, opt, global_scale);
  EXPECT_GT(tasks.load(), 1u) << mode;
  EXPECT_TRUE(bit_equal(got, want, mode + ", executor"));
}

TEST(Parallel, FpModesWithThreadsAndExecutorsAreBitIdentical) {
  const float g = 3.5f;
  check_fp_threads<float>(lowbit::mode::mxfp4, nullptr);
  check_fp_threads<lowbit::half>(lowbit::mode::mxfp4, nullptr);
  check_fp_threads<lowbit::bfloat16>(lowbit::mode::nvfp4, nullptr);
  check_fp_threads<float>(lowbit::mode::nvfp4, &g);
  check_fp_threads<lowbit::half>(lowbit::mode::mxfp8, nullptr);
}

TEST(Parallel, OptionsAreValidatedLikeArguments) {
  std::vector<float> s(2, 1.0f), b(2, 0.0f), out(128, 3.0f);
  std::vector<std::uint32_t> wq(16);
  lowbit::options opt;
  opt.bits = 11;
  EXPECT_THROW(lowbit::dequantize(wq.data(), s.data(), b.data(), out.data(), 1, 128, opt), lowbit::error);
  opt.bits = 4;
  opt.group_size = 16;
  EXPECT_THROW(lowbit::dequantize(wq.data(), s.data(), b.data(), out.data(), 1, 128, opt), lowbit::error);
  for (float v : out) EXPECT_EQ(v, 3.0f);
}

}  // namespace
