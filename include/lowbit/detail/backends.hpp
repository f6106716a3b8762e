// lowbit/detail/backends.hpp — the kernel sets compiled into this translation unit, and the active one.
//
// A kernel set is a struct with the same shape for every instruction set (detail/<isa>/kernels.hpp):
//
//   struct <isa>_kernels {
//     static constexpr const char* name;           // what lowbit::backend_name() returns
//     static constexpr std::size_t overread;       // bytes the kernels may read past the codes they are given
//     static constexpr bool has_streaming_stores;  // non-temporal stores exist (stream_lines, stream_fence)
//     static constexpr bool streams_directly;      // dequantize<..., Stream = true> exists, for 64-byte
//                                                  // aligned outputs (each group's output is whole lines)
//     static void stream_lines(void* dst, const void* src, std::size_t bytes) noexcept;  // whole aligned lines
//     static void stream_fence() noexcept;         // orders the non-temporal stores before what follows
//
//     // `groups` consecutive affine groups: wq holds groups * GroupSize * Bits / 32 words, scales and
//     // biases one value per group, out groups * GroupSize values.
//     template <int Bits, int GroupSize, bool Stream = false, class S, class O>
//     static void dequantize(const uint32_t* wq, const S* scales, const S* biases, O* out, size_t groups) noexcept;
//     // `groups` consecutive groups of fp mode M, scales one code per group. Global: nvfp4 with a global
//     // scale, whose decode factor fp::global_decode(g) is `decode` (unused otherwise).
//     template <mode M, bool Global = false, class O>
//     static void dequantize_fp(const uint32_t* wq, const uint8_t* scales, O* out, size_t groups,
//                               float decode) noexcept;
//   };
//
// Arguments arrive validated (detail/driver.hpp); kernels never throw and never allocate. The scalar set
// is always compiled. Each SIMD set guards itself on the compiler macros it needs, so a build for AVX-512
// also carries the AVX2 set: the tests compare every set of compiled_kernels with the scalar reference,
// while only active_kernels serves the public API.
#ifndef LOWBIT_DETAIL_BACKENDS_HPP
#define LOWBIT_DETAIL_BACKENDS_HPP

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../config.hpp"
#include "../mode.hpp"
#include "../types.hpp"
#include "arm_neon/kernels.hpp"
#include "scalar/kernels.hpp"
#include "x86_avx2/kernels.hpp"
#include "x86_avx512/kernels.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

template <class... Kernels>
struct kernel_list {};

// Every kernel set this translation unit compiles, the active one first.
using compiled_kernels = kernel_list<
#if LOWBIT_HAVE_AVX512
    avx512_kernels,
#endif
#if LOWBIT_HAVE_AVX2
    avx2_kernels,
#endif
#if LOWBIT_HAVE_NEON
    neon_kernels,
#endif
    scalar_kernels>;

#if LOWBIT_BACKEND == LOWBIT_BACKEND_AVX512
using active_kernels = avx512_kernels;
#elif LOWBIT_BACKEND == LOWBIT_BACKEND_AVX2
using active_kernels = avx2_kernels;
#elif LOWBIT_BACKEND == LOWBIT_BACKEND_NEON
using active_kernels = neon_kernels;
#else
using active_kernels = scalar_kernels;
#endif

// The interface above, checked for every compiled set.
template <class K>
constexpr bool is_kernel_set() {
  using affine_kernel = void (*)(const std::uint32_t*, const half*, const half*, float*, std::size_t) noexcept;
  using fp_kernel = void (*)(const std::uint32_t*, const std::uint8_t*, bfloat16*, std::size_t, float) noexcept;
  return std::is_same<decltype(K::name), const char* const>::value &&
         std::is_same<decltype(K::overread), const std::size_t>::value &&
         std::is_same<decltype(K::has_streaming_stores), const bool>::value &&
         std::is_same<decltype(K::streams_directly), const bool>::value &&
         std::is_same<decltype(&K::stream_lines), void (*)(void*, const void*, std::size_t) noexcept>::value &&
         std::is_same<decltype(&K::stream_fence), void (*)() noexcept>::value &&
         std::is_same<decltype(&K::template dequantize<4, 64, false, half, float>), affine_kernel>::value &&
         std::is_same<decltype(&K::template dequantize_fp<mode::nvfp4, true, bfloat16>), fp_kernel>::value &&
         (!K::streams_directly || K::has_streaming_stores);
}
template <class... Kernels>
constexpr bool are_kernel_sets(kernel_list<Kernels...>) {
  return (is_kernel_set<Kernels>() && ...);
}
static_assert(are_kernel_sets(compiled_kernels{}), "a kernel set lacks part of the interface (detail/backends.hpp)");

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_DETAIL_BACKENDS_HPP
