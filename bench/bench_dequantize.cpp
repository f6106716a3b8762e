// Throughput of dequantize against the memory roofline, measured in one run (Google Benchmark).
//
// Every benchmark dequantizes a rows x cols matrix and reports output elements/s and bytes/s, plus its
// fraction of two store rooflines for the same number of output bytes, measured by this binary in this
// run: `of_memset` (std::memset) and `of_nt` (a loop of non-temporal 32-byte stores, x86 only). Ratios
// are what the speed goals are stated in; absolute numbers vary between machines.
//
// Outputs start on a 64-byte boundary, as a caller who cares about speed allocates them; the /offset16
// variants start 16 bytes past one, as large std::vector buffers do with glibc, to show what that costs.
//
// Names: dequantize/<backend>/b<bits>/g<group>/<scale>-><out>/<rows>x<cols>[/t<threads>][/<stores>][/offset16]
//   --benchmark_filter='dequantize/active/b4/g64/float->float/'   one row of the table
//   --size=small|all                                              sizes registered (default all)
// The benchmark list: for the active backend and the scalar reference, bits 2..8, group sizes 32/64/128,
// float->float, half->half, bfloat16->bfloat16 and half->float, at 64x1024 (cache-resident), 1024x1024,
// 4096x4096 and 11008x4096 (an LLM MLP weight); plus 1 vs 2 threads and regular vs streaming stores.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <lowbit/lowbit.hpp>

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace {

using lowbit::bfloat16;
using lowbit::half;

// ---- rooflines ----------------------------------------------------------------------------------
void nt_fill(unsigned char* p, std::size_t bytes) {
#if defined(__AVX__)
  std::size_t head = (32 - reinterpret_cast<std::uintptr_t>(p) % 32) % 32;
  std::memset(p, 0x5a, std::min(head, bytes));
  const __m256i pattern = _mm256_set1_epi8(0x5a);
  std::size_t i = head;
  for (; i + 32 <= bytes; i += 32) _mm256_stream_si256(reinterpret_cast<__m256i*>(p + i), pattern);
  std::memset(p + i, 0x5a, bytes - i);
  _mm_sfence();
#else
  std::memset(p, 0x5a, bytes);
#endif
}

double seconds(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The kernel's fraction of each roofline: the machine is shared and its speed drifts, so the kernel,
// memset and the non-temporal fill of the same output buffer are timed alternately and the best time of
// each is compared (about 0.2 s in all). The rooflines store a non-zero pattern: some machines write
// zero lines much faster than data (seen here: 85 GB/s of zeros, 27 GB/s of anything else).
struct fractions {
  double of_memset, of_nt;
};
fractions paired(const std::function<void()>& kernel, unsigned char* out, std::size_t bytes) {
  double k = 1e30, m = 1e30, n = 1e30;
  const auto start = std::chrono::steady_clock::now();
  const auto fill = [&] { std::memset(out, 0x5a, bytes); benchmark::ClobberMemory(); };
  for (int r = 0; r < 1000; ++r) {
    n = std::min(n, seconds([&] { nt_fill(out, bytes); benchmark::ClobberMemory(); }));
    fill();  // non-temporal stores evict the buffer: bring it back, so the kernel and memset find it alike
    k = std::min(k, seconds(kernel));
    m = std::min(m, seconds(fill));
    if (r >= 4 && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > 0.2) break;
  }
  return {m / k, n / k};
}

// ---- inputs -----------------------------------------------------------------------------------------
template <class S>
struct inputs {
  std::vector<std::uint32_t> wq;
  std::vector<S> scales, biases;
  inputs(std::size_t rows, std::size_t cols, int bits, int group_size) {
    std::mt19937 rng(1);
    wq.resize(rows * cols * bits / 32);
    for (auto& w : wq) w = rng();
    std::normal_distribution<float> d(0.0f, 0.02f);
    scales.resize(rows * cols / group_size);
    biases.resize(scales.size());
    for (auto& s : scales) s = S(d(rng));
    for (auto& b : biases) b = S(d(rng) * 10);
  }
};

enum class which { active, scalar };

// n elements starting `offset` bytes past a 64-byte boundary.
template <class O>
struct output_buffer {
  std::vector<unsigned char> bytes;
  O* p;
  output_buffer(std::size_t n, std::size_t offset) : bytes(n * sizeof(O) + 64 + offset) {
    const auto misalignment = reinterpret_cast<std::uintptr_t>(bytes.data()) % 64;
    p = reinterpret_cast<O*>(bytes.data() + (64 - misalignment) % 64 + offset);
  }
  O* data() const { return p; }
};

template <class S, class O>
void run(benchmark::State& state, which backend, int bits, int group_size, std::size_t rows, std::size_t cols,
         unsigned threads, lowbit::store_policy stores, std::size_t offset) {
  const inputs<S> in(rows, cols, bits, group_size);
  const output_buffer<O> out(rows * cols, offset);
  lowbit::options opt;
  opt.bits = bits;
  opt.group_size = group_size;
  opt.threads = threads;
  opt.stores = stores;
  for (auto _ : state) {
    if (backend == which::active) {
      lowbit::dequantize(in.wq.data(), in.scales.data(), in.biases.data(), out.data(), rows, cols, opt);
    } else {
      lowbit::scalar::dequantize(in.wq.data(), in.scales.data(), in.biases.data(), out.data(), rows, cols, opt);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const std::size_t bytes = rows * cols * sizeof(O);
  const double iterations = static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<std::int64_t>(iterations * static_cast<double>(rows * cols)));
  state.SetBytesProcessed(static_cast<std::int64_t>(iterations * static_cast<double>(bytes)));
  const fractions f = paired(
      [&] {
        if (backend == which::active) {
          lowbit::dequantize(in.wq.data(), in.scales.data(), in.biases.data(), out.data(), rows, cols, opt);
        } else {
          lowbit::scalar::dequantize(in.wq.data(), in.scales.data(), in.biases.data(), out.data(), rows, cols, opt);
        }
        benchmark::ClobberMemory();
      },
      reinterpret_cast<unsigned char*>(out.data()), bytes);
  state.counters["of_memset"] = f.of_memset;  // 1.0: as fast as memset of the same bytes
  state.counters["of_nt"] = f.of_nt;          // 1.0: as fast as non-temporal stores of the same bytes
}

struct type_pair {
  const char* name;
  void (*fn)(benchmark::State&, which, int, int, std::size_t, std::size_t, unsigned, lowbit::store_policy,
             std::size_t);
};
const type_pair pairs[] = {
    {"float->float", run<float, float>},
    {"half->half", run<half, half>},
    {"bfloat16->bfloat16", run<bfloat16, bfloat16>},
    {"half->float", run<half, float>},
};

struct shape {
  std::size_t rows, cols;
};

void register_one(which backend, int bits, int group, const type_pair& tp, shape s, unsigned threads,
                  lowbit::store_policy stores, const char* stores_name, std::size_t offset = 0) {
  std::string name = std::string("dequantize/") + (backend == which::active ? "active" : "scalar") + "/b" +
                     std::to_string(bits) + "/g" + std::to_string(group) + "/" + tp.name + "/" +
                     std::to_string(s.rows) + "x" + std::to_string(s.cols);
  if (threads != 1) name += "/t" + std::to_string(threads);
  if (stores_name != nullptr) name += std::string("/") + stores_name;
  if (offset != 0) name += "/offset" + std::to_string(offset);
  auto fn = tp.fn;
  benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
    fn(st, backend, bits, group, s.rows, s.cols, threads, stores, offset);
  })->UseRealTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  bool small = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::string(argv[i]) == "--size=small") {
      small = true;
    } else if (std::string(argv[i]) != "--size=all") {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  benchmark::AddCustomContext("lowbit_backend", lowbit::backend_name());

  std::vector<shape> shapes = {{64, 1024}, {1024, 1024}};
  if (!small) shapes.insert(shapes.end(), {{4096, 4096}, {11008, 4096}});
  for (which backend : {which::active, which::scalar}) {
    for (int bits : {2, 3, 4, 5, 6, 8}) {
      for (int group : {32, 64, 128}) {
        for (const auto& tp : pairs) {
          for (shape s : shapes) register_one(backend, bits, group, tp, s, 1, lowbit::store_policy::automatic, nullptr);
        }
      }
    }
  }
  // Threads, store policies and a misaligned output, on the headline configuration.
  for (const auto& tp : {pairs[0], pairs[1]}) {
    for (shape s : shapes) {
      register_one(which::active, 4, 64, tp, s, 2, lowbit::store_policy::automatic, nullptr);
      register_one(which::active, 4, 64, tp, s, 1, lowbit::store_policy::regular, "regular");
      register_one(which::active, 4, 64, tp, s, 1, lowbit::store_policy::streaming, "streaming");
      register_one(which::active, 4, 64, tp, s, 1, lowbit::store_policy::automatic, nullptr, 16);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
