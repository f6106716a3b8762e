// quantized_matmul (transposed, the LLM layout: y = x W^T) against what a user would do instead, in one run:
// the read roofline of the same bytes, a dense float32 and float16 GEMV over weights dequantized in advance,
// and for M = 8 Eigen's and OpenBLAS's dense float32 products. float x and y; half scales and biases.
//
// Names: matmul/<what>/<format>/<N>x<K>/M<m>[/t<threads>], <what> one of
//   qmv       lowbit::quantized_matmul (the active backend)
//   read      the roofline: the weight's bytes read (8 streams far apart, which one core reads faster than
//             one linear stream), with as many threads as the qmv it is compared with
//   dense32   y = x W^T with W float32, dequantized in advance (a vectorized GEMV); dense16 the same, float16
//   eigen32   Eigen's product, W float32 dequantized in advance; openblas32 OpenBLAS's sgemm (one thread)
// <format>: b<bits> (affine, group 64) or mxfp4, nvfp4, mxfp8.
// Counters: Gweights (N x K x M per second); GBps (the weight's bytes per second); for qmv, timed
// alternately with it in the same run, best of each: of_read (the roofline's time over qmv's), x_dense16
// (M = 1), x_eigen32 and x_openblas32 (M = 8).
// Sizes: 512x1024 (L2-resident), 4096x4096 (L3-resident) and 4096x11008 cycled over enough distinct
// matrices to exceed 4x the last-level cache (DRAM-resident).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <unistd.h>

#if defined(__F16C__)
#include <immintrin.h>
#endif
#include <lowbit/config.hpp>
#if LOWBIT_BENCH_EIGEN
LOWBIT_AVX512_WARNINGS_OFF  // GCC bug 105593 in Eigen's AVX-512 code as well: see lowbit/config.hpp
#include <Eigen/Core>
#endif
#if LOWBIT_BENCH_OPENBLAS
#include <cblas.h>
#endif

#include <lowbit/lowbit.hpp>

namespace {

using lowbit::half;

double seconds_of(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---- the read roofline ----------------------------------------------------------------------------
std::uint64_t read_streams(const unsigned char* p, std::size_t bytes) {
  const std::size_t part = bytes / 8 / 64 * 64;
  std::uint64_t acc[8] = {};
  for (std::size_t i = 0; i < part; i += 8) {
    for (int s = 0; s < 8; ++s) {
      std::uint64_t v;
      std::memcpy(&v, p + s * part + i, 8);
      acc[s] += v;
    }
  }
  for (std::size_t i = 8 * part; i < bytes; ++i) acc[0] += p[i];
  std::uint64_t sum = 0;
  for (std::uint64_t a : acc) sum += a;
  return sum;
}

struct byte_range {
  const void* p;
  std::size_t bytes;
};
// Reads every range, split between `threads` threads (the caller's one of them).
std::uint64_t read_all(const std::vector<byte_range>& ranges, unsigned threads) {
  std::vector<std::uint64_t> sums(threads);
  const auto part = [&](unsigned t) {
    for (const byte_range& r : ranges) {
      const std::size_t begin = r.bytes * t / threads, end = r.bytes * (t + 1) / threads;
      sums[t] += read_streams(static_cast<const unsigned char*>(r.p) + begin, end - begin);
    }
  };
  std::vector<std::thread> others;
  for (unsigned t = 1; t < threads; ++t) others.emplace_back(part, t);
  part(0);
  for (auto& t : others) t.join();
  std::uint64_t sum = 0;
  for (auto s : sums) sum += s;
  return sum;
}

// ---- weights ----------------------------------------------------------------------------------------
struct format {
  const char* name;
  int bits;  // affine
  lowbit::mode md;
  int group_size() const { return md == lowbit::mode::affine ? 64 : lowbit::mode_group_size(md); }
  int code_bits() const { return md == lowbit::mode::affine ? bits : lowbit::mode_bits(md); }
};
const format b4{"b4", 4, lowbit::mode::affine};

using float16 = half;  // converted with F16C where the target has it (dense_row)

struct weights {
  std::vector<std::uint32_t> wq;
  std::vector<half> scales, biases;  // affine
  std::vector<std::uint8_t> codes;   // fp modes' scales
  std::vector<float> dense32;        // only in the first copies (see problem)
  std::vector<float16> dense16;
};

// `copies` distinct quantized weights (and dense ones), cycled so that a DRAM-sized working set is read
// from memory.
struct problem {
  format f;
  std::size_t N, K, M, copies, dense32_copies, dense16_copies;
  std::vector<weights> w;
  std::vector<float> x, y;
  problem(format fmt, std::size_t n, std::size_t k, std::size_t m, std::size_t c, std::size_t d32, std::size_t d16)
      : f(fmt), N(n), K(k), M(m), copies(c), dense32_copies(d32), dense16_copies(d16), w(c) {
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const std::size_t groups = N * K / static_cast<std::size_t>(f.group_size());
    for (std::size_t i = 0; i < copies; ++i) {
      weights& v = w[i];
      v.wq.resize(N * K * static_cast<std::size_t>(f.code_bits()) / 32);
      for (auto& q : v.wq) q = rng();
      if (f.md == lowbit::mode::affine) {
        v.scales.resize(groups);
        v.biases.resize(groups);
        for (auto& s : v.scales) s = half(nd(rng) * 0.02f);
        for (auto& b : v.biases) b = half(nd(rng) * 0.2f);
      } else {
        v.codes.resize(groups);
        for (auto& s : v.codes) s = static_cast<std::uint8_t>(f.md == lowbit::mode::nvfp4 ? 0x30 + rng() % 16 : 120 + rng() % 8);
      }
      if (i < dense32_copies) {
        v.dense32.resize(N * K);
        dequantize_into(v, v.dense32.data());
      }
      if (i < dense16_copies) {
        v.dense16.resize(N * K);
        dequantize_into(v, v.dense16.data());
      }
    }
    x.resize(M * K);
    for (auto& v : x) v = nd(rng);
    y.resize(M * N);
  }
  template <class O>
  void dequantize_into(const weights& v, O* out) const {
    if (f.md == lowbit::mode::affine) {
      lowbit::dequantize(v.wq.data(), v.scales.data(), v.biases.data(), out, N, K, f.bits, 64);
    } else {
      lowbit::dequantize(f.md, v.wq.data(), v.codes.data(), out, N, K);
    }
  }
  std::vector<byte_range> bytes_of(std::size_t i) const {
    const weights& v = w[i % copies];
    std::vector<byte_range> r = {{v.wq.data(), v.wq.size() * 4}};
    if (f.md == lowbit::mode::affine) {
      r.push_back({v.scales.data(), v.scales.size() * 2});
      r.push_back({v.biases.data(), v.biases.size() * 2});
    } else {
      r.push_back({v.codes.data(), v.codes.size()});
    }
    return r;
  }
  std::size_t bytes() const {
    std::size_t total = 0;
    for (const auto& r : bytes_of(0)) total += r.bytes;
    return total;
  }
};

void qmv(problem& p, std::size_t i, unsigned threads) {
  lowbit::options opt;
  opt.threads = threads;
  const weights& w = p.w[i % p.copies];
  if (p.f.md == lowbit::mode::affine) {
    opt.bits = p.f.bits;
    lowbit::quantized_matmul(p.x.data(), w.wq.data(), w.scales.data(), w.biases.data(), p.y.data(), p.M, p.N, p.K,
                             true, opt);
  } else {
    lowbit::quantized_matmul(p.f.md, p.x.data(), w.wq.data(), w.codes.data(), p.y.data(), p.M, p.N, p.K, true,
                             nullptr, opt);
  }
}

// ---- what users would pick instead ------------------------------------------------------------------
// One dense row times x: 16 partial sums, which compilers vectorize; for float16 on x86 the F16C
// conversion spelled out, which GCC does not vectorize from a 16-bit type.
template <class T>
float dense_row(const T* row, const float* x, std::size_t K) {
#if defined(__F16C__) && defined(__FMA__)
  if constexpr (!std::is_same<T, float>::value) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (std::size_t k = 0; k < K; k += 16) {
      const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k)));
      const __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k + 8)));
      acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + k), acc0);
      acc1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + k + 8), acc1);
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, _mm256_add_ps(acc0, acc1));
    float sum = 0.0f;
    for (float a : lanes) sum += a;
    return sum;
  }
#endif
  float acc[16] = {};
  for (std::size_t k = 0; k < K; k += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += static_cast<float>(row[k + j]) * x[k + j];
  }
  float sum = 0.0f;
  for (float a : acc) sum += a;
  return sum;
}

template <class T>
void dense(problem& p, std::size_t i) {
  const weights& d = p.w[i % (std::is_same<T, float>::value ? p.dense32_copies : p.dense16_copies)];
  const T* w;
  if constexpr (std::is_same<T, float>::value) w = d.dense32.data();
  else w = d.dense16.data();
  for (std::size_t m = 0; m < p.M; ++m) {
    const float* x = p.x.data() + m * p.K;
    for (std::size_t n = 0; n < p.N; ++n) p.y[m * p.N + n] = dense_row(w + n * p.K, x, p.K);
  }
}

#if LOWBIT_BENCH_EIGEN
void eigen32(problem& p, std::size_t i) {
  using rows = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const rows> W(p.w[i % p.dense32_copies].dense32.data(), static_cast<Eigen::Index>(p.N),
                                 static_cast<Eigen::Index>(p.K));
  const Eigen::Map<const rows> X(p.x.data(), static_cast<Eigen::Index>(p.M), static_cast<Eigen::Index>(p.K));
  Eigen::Map<rows> Y(p.y.data(), static_cast<Eigen::Index>(p.M), static_cast<Eigen::Index>(p.N));
  Y.noalias() = X * W.transpose();
}
LOWBIT_AVX512_WARNINGS_ON
#endif
#if LOWBIT_BENCH_OPENBLAS
void openblas32(problem& p, std::size_t i) {
  const int M = static_cast<int>(p.M), N = static_cast<int>(p.N), K = static_cast<int>(p.K);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, p.x.data(), K,
              p.w[i % p.dense32_copies].dense32.data(), K, 0.0f, p.y.data(), N);
}
#endif

// ---- registration -----------------------------------------------------------------------------------
std::size_t last_level_cache() {
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  return l3 > 0 ? static_cast<std::size_t>(l3) : std::size_t{32} << 20;
}

struct size {
  std::size_t N, K;
  bool dram;
};

// One problem at a time lives: benchmarks of one problem are registered together, and the DRAM-sized ones
// take gigabytes.
problem& problem_for(format f, size s, std::size_t M, bool dense32, bool dense16) {
  static std::unique_ptr<problem> current;
  static std::string key;
  const std::string wanted = std::string(f.name) + "/" + std::to_string(s.N) + "x" + std::to_string(s.K) + "/" +
                             std::to_string(M) + (dense32 ? "/d32" : "") + (dense16 ? "/d16" : "");
  if (current == nullptr || key != wanted) {
    current.reset();
    const std::size_t llc4 = 4 * last_level_cache();
    const std::size_t one = s.N * s.K * static_cast<std::size_t>(f.code_bits()) / 8;
    const auto cycled = [&](std::size_t bytes) { return s.dram ? llc4 / bytes + 1 : 1; };
    current = std::make_unique<problem>(f, s.N, s.K, M, cycled(one), dense32 ? cycled(s.N * s.K * 4) : 0,
                                        dense16 ? cycled(s.N * s.K * 2) : 0);
    key = wanted;
  }
  return *current;
}

void set_rates(benchmark::State& st, const problem& p) {
  st.counters["Gweights"] = benchmark::Counter(static_cast<double>(p.N * p.K * p.M) * st.iterations() / 1e9,
                                               benchmark::Counter::kIsRate);
  st.counters["GBps"] = benchmark::Counter(static_cast<double>(p.bytes()) * st.iterations() / 1e9,
                                           benchmark::Counter::kIsRate);
}

// The qmv of one format, size, M and thread count, with its roofline and, where asked, the dense baselines.
struct qmv_case {
  format f;
  size s;
  std::size_t M;
  unsigned threads;
  bool dense16, dense32, blas;  // x_dense16; the dense32, eigen32 and openblas32 benchmarks
};

void register_case(const qmv_case& c) {
  const std::string tail = std::string(c.f.name) + "/" + std::to_string(c.s.N) + "x" + std::to_string(c.s.K) +
                           "/M" + std::to_string(c.M) + (c.threads != 1 ? "/t" + std::to_string(c.threads) : "");
  const auto get = [c]() -> problem& { return problem_for(c.f, c.s, c.M, c.dense32 || c.blas, c.dense16); };
  benchmark::RegisterBenchmark(("matmul/qmv/" + tail).c_str(), [=](benchmark::State& st) {
    problem& p = get();
    std::size_t i = 0;
    for (auto _ : st) qmv(p, i++, c.threads);
    // Alternating, best of each: the roofline and the baselines on the same copies.
    double q = 1e30, r = 1e30, d16 = 1e30, e = 1e30, b = 1e30;
    std::uint64_t sink = 0;
    for (std::size_t k = 0; k < 3 * p.copies + 4; ++k) {
      q = std::min(q, seconds_of([&] { qmv(p, k, c.threads); }));
      r = std::min(r, seconds_of([&] { sink += read_all(p.bytes_of(k), c.threads); }));
      if (c.dense16) d16 = std::min(d16, seconds_of([&] { dense<float16>(p, k); }));
#if LOWBIT_BENCH_EIGEN
      if (c.blas) e = std::min(e, seconds_of([&] { eigen32(p, k); }));
#endif
#if LOWBIT_BENCH_OPENBLAS
      if (c.blas) b = std::min(b, seconds_of([&] { openblas32(p, k); }));
#endif
    }
    benchmark::DoNotOptimize(sink);
    set_rates(st, p);
    st.counters["of_read"] = r / q;
    if (c.dense16) st.counters["x_dense16"] = d16 / q;
    if (e < 1e30) st.counters["x_eigen32"] = e / q;
    if (b < 1e30) st.counters["x_openblas32"] = b / q;
  })->UseRealTime()->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(("matmul/read/" + tail).c_str(), [=](benchmark::State& st) {
    problem& p = get();
    std::size_t i = 0;
    std::uint64_t sink = 0;
    for (auto _ : st) sink += read_all(p.bytes_of(i++), c.threads);
    benchmark::DoNotOptimize(sink);
    set_rates(st, p);
  })->UseRealTime()->Unit(benchmark::kMicrosecond);
  const auto baseline = [&](const char* what, void (*run)(problem&, std::size_t)) {
    benchmark::RegisterBenchmark(("matmul/" + std::string(what) + "/" + tail).c_str(), [=](benchmark::State& st) {
      problem& p = get();
      std::size_t i = 0;
      for (auto _ : st) run(p, i++);
      set_rates(st, p);
    })->UseRealTime()->Unit(benchmark::kMicrosecond);
  };
  if (c.dense16) baseline("dense16", dense<float16>);
  if (c.dense32) baseline("dense32", dense<float>);
#if LOWBIT_BENCH_EIGEN
  if (c.blas) baseline("eigen32", eigen32);
#endif
#if LOWBIT_BENCH_OPENBLAS
  if (c.blas) baseline("openblas32", openblas32);
#endif
}

void register_all() {
#if LOWBIT_BENCH_OPENBLAS
  openblas_set_num_threads(1);
#endif
  const size l2{512, 1024, false}, l3{4096, 4096, false}, dram{4096, 11008, true};
  for (const size s : {l2, l3, dram}) {
    register_case({b4, s, 1, 1, true, true, false});
    register_case({b4, s, 1, 2, false, false, false});
    for (std::size_t M : {2, 4}) register_case({b4, s, M, 1, false, false, false});
    register_case({b4, s, 8, 1, false, false, s.N == 4096 && s.K == 4096});
  }
  // The other formats at M = 1, per byte read against 4 bits.
  const format others[] = {{"b2", 2, lowbit::mode::affine},     {"b3", 3, lowbit::mode::affine},
                           {"b5", 5, lowbit::mode::affine},     {"b6", 6, lowbit::mode::affine},
                           {"b8", 8, lowbit::mode::affine},     {"mxfp4", 4, lowbit::mode::mxfp4},
                           {"nvfp4", 4, lowbit::mode::nvfp4},   {"mxfp8", 8, lowbit::mode::mxfp8}};
  for (const size s : {l2, dram}) {
    for (const format& f : others) register_case({f, s, 1, 1, false, false, false});
  }
}

const bool registered = (register_all(), true);

}  // namespace
