// Shared test helpers: bit-exact comparison with useful failure messages, storage-type dispatch, and
// deterministic random data.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <lowbit/lowbit.hpp>

#ifdef LOWBIT_TEST_SHARED_INSTANCES
#include "instances.hpp"
#endif

namespace lowbit_test {

template <class T>
std::uint32_t bits_of(T v) {
  if constexpr (std::is_same<T, float>::value) {
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    return u;
  } else {
    return v.to_bits();
  }
}

template <class T>
std::string describe(T v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g (0x%0*x)", static_cast<double>(static_cast<float>(v)),
                std::is_same<T, float>::value ? 8 : 4, static_cast<unsigned>(bits_of(v)));
  return buf;
}

// Bit-for-bit equality of two arrays; on failure: what, the first differing index, both values, and how
// many elements differ.
template <class T>
::testing::AssertionResult bit_equal(const T* got, const T* want, std::size_t n, const std::string& what) {
  std::size_t first = n, count = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (bits_of(got[i]) != bits_of(want[i])) {
      if (first == n) first = i;
      ++count;
    }
  }
  if (count == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << count << " of " << n << " elements differ; first at index "
                                       << first << ": got " << describe(got[first]) << ", want "
                                       << describe(want[first]);
}
template <class T>
::testing::AssertionResult bit_equal(const std::vector<T>& got, const std::vector<T>& want, const std::string& what) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << what << ": sizes differ, " << got.size() << " vs " << want.size();
  }
  return bit_equal(got.data(), want.data(), got.size(), what);
}

template <class T>
struct type_tag {
  using type = T;
};

// Calls f(type_tag<T>) for the storage type named by a safetensors dtype ("F32", "F16", "BF16").
template <class F>
void with_dtype(const std::string& dtype, F&& f) {
  if (dtype == "F32") return f(type_tag<float>{});
  if (dtype == "F16") return f(type_tag<lowbit::half>{});
  if (dtype == "BF16") return f(type_tag<lowbit::bfloat16>{});
  FAIL() << "unexpected dtype " << dtype;
}

// Calls f(type_tag<S>, type_tag<O>) for all nine scale x output type pairs.
template <class F>
void for_each_type_pair(F&& f) {
  auto outs = [&](auto s) {
    f(s, type_tag<float>{});
    f(s, type_tag<lowbit::half>{});
    f(s, type_tag<lowbit::bfloat16>{});
  };
  outs(type_tag<float>{});
  outs(type_tag<lowbit::half>{});
  outs(type_tag<lowbit::bfloat16>{});
}

template <class T>
T from_float(float f) {
  if constexpr (std::is_same<T, float>::value) {
    return f;
  } else {
    return T(f);
  }
}

// Deterministic random inputs.
struct random_source {
  std::mt19937_64 engine;
  explicit random_source(std::uint64_t seed) : engine(seed) {}

  std::vector<std::uint32_t> words(std::size_t n) {
    std::vector<std::uint32_t> out(n);
    for (auto& w : out) w = static_cast<std::uint32_t>(engine());
    return out;
  }
  template <class T>
  std::vector<T> normal(std::size_t n, float stddev) {
    std::normal_distribution<float> d(0.0f, stddev);
    std::vector<T> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(from_float<T>(d(engine)));
    return out;
  }
};

// The kernel sets this build compiles (lowbit::detail::compiled_kernels) as GoogleTest types, so typed
// tests run every one of them; test names show the backend (Backend/avx512_vbmi.Bits3MatchesScalar).
template <class List>
struct kernel_types;
template <class... Kernels>
struct kernel_types<lowbit::detail::kernel_list<Kernels...>> {
  using type = ::testing::Types<Kernels...>;
};
using compiled_kernel_types = kernel_types<lowbit::detail::compiled_kernels>::type;
struct kernel_set_name {
  template <class Kernels>
  static std::string GetName(int) {
    std::string name = Kernels::name;
    for (char& c : name) c = c == '-' ? '_' : c;
    return name;
  }
};

// The name lowbit::backend_name() must return for the backend config.hpp selected.
inline std::string expected_backend_name() {
#if LOWBIT_BACKEND == LOWBIT_BACKEND_AVX512
  return LOWBIT_AVX512_VBMI ? "avx512-vbmi" : "avx512";
#elif LOWBIT_BACKEND == LOWBIT_BACKEND_AVX2
  return "avx2";
#elif LOWBIT_BACKEND == LOWBIT_BACKEND_NEON
  return std::string("neon") + (LOWBIT_NEON_FP16 ? "-fp16" : "") + (LOWBIT_NEON_BF16 ? "-bf16" : "");
#else
  return "scalar";
#endif
}

}  // namespace lowbit_test
