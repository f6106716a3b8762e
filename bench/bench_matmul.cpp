// quantized_matmul (transposed, the LLM layout: y = x W^T) against what a user would do instead, in one run:
// the read roofline of the same bytes, and a dense float32 and float16 GEMV over weights dequantized in
// advance. 4-bit, group 64, half scales, float x and y.
//
// Names: matmul/<what>/<N>x<K>/M<m>[/t<threads>], <what> one of
//   qmv      lowbit::quantized_matmul (the active backend)        read     the roofline: the same bytes read
//   dense32  y = W x, W float32, dequantized in advance           dense16  the same with W float16
// Counters: G weights per second (N x K x M / time); for qmv also of_read (its fraction of the read roofline
// of its own bytes, timed alternately in the same run) and x_dense16 (its speed over the dense float16
// GEMV's, timed alternately too). Sizes: 512x1024 (L2-resident) and 4096x11008 cycled over enough
// distinct matrices to exceed 4x the last-level cache (DRAM-resident).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <unistd.h>

#include <lowbit/lowbit.hpp>

namespace {

using lowbit::half;

double seconds_of(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The fastest read of the bytes: 8 streams far apart in flight at once, which one core reads faster than
// a single linear stream.
std::uint64_t read_bytes(const unsigned char* p, std::size_t bytes) {
  const std::size_t part = bytes / 8 / 64 * 64;
  std::uint64_t acc[8] = {};
  for (std::size_t i = 0; i < part; i += 8) {
    for (int s = 0; s < 8; ++s) {
      std::uint64_t v;
      std::memcpy(&v, p + s * part + i, 8);
      acc[s] += v;
    }
  }
  std::uint64_t sum = 0;
  for (std::uint64_t a : acc) sum += a;
  return sum;
}

#if LOWBIT_HAS_FLOAT16
using float16 = _Float16;  // converted by the hardware (F16C), as a dense float16 GEMV would be
#else
using float16 = half;
#endif

struct weights {
  std::vector<std::uint32_t> wq;
  std::vector<half> scales, biases;
  std::vector<float> dense32;    // only in the first dense_copies
  std::vector<float16> dense16;  // likewise
};

// `copies` distinct quantized weights (and `dense_copies` dense ones), cycled so that a DRAM-sized working
// set is read from memory.
struct problem {
  std::size_t N, K, M, copies, dense_copies;
  std::vector<weights> w;
  std::vector<float> x, y;
  problem(std::size_t n, std::size_t k, std::size_t m, std::size_t c, std::size_t d)
      : N(n), K(k), M(m), copies(c), dense_copies(d), w(c) {
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (std::size_t i = 0; i < copies; ++i) {
      weights& v = w[i];
      v.wq.resize(N * K / 8);
      for (auto& q : v.wq) q = rng();
      v.scales.resize(N * K / 64);
      v.biases.resize(N * K / 64);
      for (auto& s : v.scales) s = half(nd(rng) * 0.02f);
      for (auto& b : v.biases) b = half(nd(rng) * 0.2f);
      if (i >= dense_copies) continue;
      v.dense32.resize(N * K);
      lowbit::dequantize(v.wq.data(), v.scales.data(), v.biases.data(), v.dense32.data(), N, K);  // widened half
      v.dense16.resize(N * K);
      lowbit::dequantize(v.wq.data(), v.scales.data(), v.biases.data(), v.dense16.data(), N, K);
    }
    x.resize(M * K);
    for (auto& v : x) v = nd(rng);
    y.resize(M * N);
  }
  std::size_t quantized_bytes() const { return N * K / 2 + N * K / 64 * 4; }
};

void qmv(problem& p, std::size_t i, unsigned threads) {
  lowbit::options opt;
  opt.threads = threads;
  const weights& w = p.w[i % p.copies];
  lowbit::quantized_matmul(p.x.data(), w.wq.data(), w.scales.data(), w.biases.data(), p.y.data(), p.M, p.N, p.K, true,
                           opt);
}

template <class T>
void dense(problem& p, std::size_t i) {
  const weights& d = p.w[i % p.dense_copies];
  const T* w;
  if constexpr (std::is_same<T, float>::value) w = d.dense32.data();
  else w = d.dense16.data();
  for (std::size_t m = 0; m < p.M; ++m) {
    const float* x = p.x.data() + m * p.K;
    for (std::size_t n = 0; n < p.N; ++n) {
      const T* row = w + n * p.K;
      float acc[16] = {};
      for (std::size_t k = 0; k < p.K; k += 16) {
        for (int j = 0; j < 16; ++j) acc[j] += static_cast<float>(row[k + j]) * x[k + j];
      }
      float sum = 0.0f;
      for (float a : acc) sum += a;
      p.y[m * p.N + n] = sum;
    }
  }
}

std::size_t last_level_cache() {
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  return l3 > 0 ? static_cast<std::size_t>(l3) : std::size_t{32} << 20;
}

void register_all() {
  struct size {
    std::size_t N, K;
    bool dram;
  };
  for (const size s : {size{512, 1024, false}, size{4096, 11008, true}}) {
    for (std::size_t M : {1, 2, 4, 8}) {
      for (unsigned threads : {1u, 2u}) {
        if (threads == 2 && M != 1) continue;
        const std::string tail = std::to_string(s.N) + "x" + std::to_string(s.K) + "/M" + std::to_string(M) +
                                 (threads == 2 ? "/t2" : "");
        const std::size_t one = s.N * s.K / 2 + s.N * s.K / 64 * 4, llc4 = 4 * last_level_cache();
        const std::size_t copies = s.dram ? llc4 / one + 1 : 1, dense_copies = s.dram ? llc4 / (s.N * s.K * 2) + 1 : 1;
        auto shared = std::make_shared<problem*>(nullptr);
        const auto get = [=]() -> problem& {
          if (*shared == nullptr) *shared = new problem(s.N, s.K, M, copies, dense_copies);  // lives until exit
          return **shared;
        };
        benchmark::RegisterBenchmark(("matmul/qmv/" + tail).c_str(), [=](benchmark::State& st) {
          problem& p = get();
          std::size_t i = 0;
          for (auto _ : st) qmv(p, i++, threads);
          // Alternating, best of each: the read roofline and the dense float16 GEMV on the same copies.
          double q = 1e30, r = 1e30, d = 1e30;
          std::uint64_t sink = 0;
          for (std::size_t k = 0; k < 3 * p.copies + 4; ++k) {
            const weights& w = p.w[k % p.copies];
            q = std::min(q, seconds_of([&] { qmv(p, k, threads); }));
            r = std::min(r, seconds_of([&] {
                  sink += read_bytes(reinterpret_cast<const unsigned char*>(w.wq.data()), w.wq.size() * 4);
                  sink += read_bytes(reinterpret_cast<const unsigned char*>(w.scales.data()), w.scales.size() * 2);
                  sink += read_bytes(reinterpret_cast<const unsigned char*>(w.biases.data()), w.biases.size() * 2);
                }));
            if (M == 1 && threads == 1) d = std::min(d, seconds_of([&] { dense<float16>(p, k); }));
          }
          benchmark::DoNotOptimize(sink);
          st.counters["Gweights"] = benchmark::Counter(static_cast<double>(p.N * p.K * p.M) * st.iterations() / 1e9,
                                                       benchmark::Counter::kIsRate);
          st.counters["of_read"] = r / q;
          if (M == 1 && threads == 1) st.counters["x_dense16"] = d / q;
        })->UseRealTime()->Unit(benchmark::kMicrosecond);
        if (threads != 1 || M != 1) continue;
        benchmark::RegisterBenchmark(("matmul/dense32/" + tail).c_str(), [=](benchmark::State& st) {
          problem& p = get();
          std::size_t i = 0;
          for (auto _ : st) dense<float>(p, i++);
          st.counters["Gweights"] = benchmark::Counter(static_cast<double>(p.N * p.K) * st.iterations() / 1e9,
                                                       benchmark::Counter::kIsRate);
        })->UseRealTime()->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("matmul/dense16/" + tail).c_str(), [=](benchmark::State& st) {
          problem& p = get();
          std::size_t i = 0;
          for (auto _ : st) dense<float16>(p, i++);
          st.counters["Gweights"] = benchmark::Counter(static_cast<double>(p.N * p.K) * st.iterations() / 1e9,
                                                       benchmark::Counter::kIsRate);
        })->UseRealTime()->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("matmul/read/" + tail).c_str(), [=](benchmark::State& st) {
          problem& p = get();
          std::size_t i = 0;
          std::uint64_t sink = 0;
          for (auto _ : st) {
            const weights& w = p.w[i++ % p.copies];
            sink += read_bytes(reinterpret_cast<const unsigned char*>(w.wq.data()), w.wq.size() * 4);
            sink += read_bytes(reinterpret_cast<const unsigned char*>(w.scales.data()), w.scales.size() * 2);
            sink += read_bytes(reinterpret_cast<const unsigned char*>(w.biases.data()), w.biases.size() * 2);
          }
          benchmark::DoNotOptimize(sink);
          st.counters["Gweights"] = benchmark::Counter(static_cast<double>(p.N * p.K) * st.iterations() / 1e9,
                                                       benchmark::Counter::kIsRate);
        })->UseRealTime()->Unit(benchmark::kMicrosecond);
      }
    }
  }
}

const bool registered = (register_all(), true);

}  // namespace
