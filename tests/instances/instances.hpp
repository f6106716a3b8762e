// The driver's entry points for every kernel set this build compiles and every configuration, instantiated
// once per build in the lowbit_test_instances library (instances.cpp.in) and declared extern here, so that
// the test programs, which all call every configuration, do not each compile every kernel again. The test
// programs see exactly the code users get: the same headers, flags and instantiations.
#ifndef LOWBIT_TESTS_INSTANCES_HPP
#define LOWBIT_TESTS_INSTANCES_HPP

#include <cstddef>
#include <cstdint>

#include <lowbit/lowbit.hpp>

#define LOWBIT_TEST_AFFINE(prefix, K, B, G, S, O)                                                              \
  prefix template void lowbit::detail::dequantize_affine<K, B, G, S, O>(                                       \
      const std::uint32_t*, const S*, const S*, O*, std::size_t, std::size_t, const lowbit::options&);
#define LOWBIT_TEST_AFFINE_PAIRS(prefix, K, B, G)                              \
  LOWBIT_TEST_AFFINE(prefix, K, B, G, float, float)                            \
  LOWBIT_TEST_AFFINE(prefix, K, B, G, float, lowbit::half)                     \
  LOWBIT_TEST_AFFINE(prefix, K, B, G, float, lowbit::bfloat16)                 \
  LOWBIT_TEST_AFFINE(prefix, K, B, G, lowbit::half, float)                     \
  LOWBIT_TEST_AFFINE(prefix, K, B, G, lowbit::half, lowbit::half)              \
  LOWBIT_TEST_AFFINE(prefix, K, B, G, lowbit::half, lowbit::bfloat16)          \
  LOWBIT_TEST_AFFINE(prefix, K, B, G, lowbit::bfloat16, float)                 \
  LOWBIT_TEST_AFFINE(prefix, K, B, G, lowbit::bfloat16, lowbit::half)          \
  LOWBIT_TEST_AFFINE(prefix, K, B, G, lowbit::bfloat16, lowbit::bfloat16)
// The matmul driver of one weight type (the types of x and y stay outside it).
#define LOWBIT_TEST_MATMUL(prefix, K, ...)                                                                      \
  prefix template void lowbit::detail::matmul<K, __VA_ARGS__>(const __VA_ARGS__&, const float*, const std::uint32_t*, \
                                                              float*, std::size_t, std::size_t, std::size_t, bool,  \
                                                              const lowbit::options&);
#define LOWBIT_TEST_AFFINE_BITS(prefix, K, B, G)                                            \
  LOWBIT_TEST_AFFINE_PAIRS(prefix, K, B, G)                                                 \
  LOWBIT_TEST_MATMUL(prefix, K, lowbit::detail::affine_weights<B, G, float>)               \
  LOWBIT_TEST_MATMUL(prefix, K, lowbit::detail::affine_weights<B, G, lowbit::half>)        \
  LOWBIT_TEST_MATMUL(prefix, K, lowbit::detail::affine_weights<B, G, lowbit::bfloat16>)
#define LOWBIT_TEST_AFFINE_GROUP(prefix, K, G) \
  LOWBIT_TEST_AFFINE_BITS(prefix, K, 1, G)     \
  LOWBIT_TEST_AFFINE_BITS(prefix, K, 2, G)     \
  LOWBIT_TEST_AFFINE_BITS(prefix, K, 3, G)     \
  LOWBIT_TEST_AFFINE_BITS(prefix, K, 4, G)     \
  LOWBIT_TEST_AFFINE_BITS(prefix, K, 5, G)     \
  LOWBIT_TEST_AFFINE_BITS(prefix, K, 6, G)     \
  LOWBIT_TEST_AFFINE_BITS(prefix, K, 7, G)     \
  LOWBIT_TEST_AFFINE_BITS(prefix, K, 8, G)

#define LOWBIT_TEST_FP(prefix, K, M, O)                                                                         \
  prefix template void lowbit::detail::dequantize_fp<K, M, O>(const std::uint32_t*, const std::uint8_t*, O*,   \
                                                               std::size_t, std::size_t, const float*,          \
                                                               const lowbit::options&);
#define LOWBIT_TEST_FP_OUTPUTS(prefix, K, M)   \
  LOWBIT_TEST_FP(prefix, K, M, float)          \
  LOWBIT_TEST_FP(prefix, K, M, lowbit::half)   \
  LOWBIT_TEST_FP(prefix, K, M, lowbit::bfloat16)
#define LOWBIT_TEST_FP_MODES(prefix, K)                                                        \
  LOWBIT_TEST_FP_OUTPUTS(prefix, K, lowbit::mode::mxfp4)                                       \
  LOWBIT_TEST_FP_OUTPUTS(prefix, K, lowbit::mode::nvfp4)                                       \
  LOWBIT_TEST_FP_OUTPUTS(prefix, K, lowbit::mode::mxfp8)                                       \
  LOWBIT_TEST_MATMUL(prefix, K, lowbit::detail::fp_weights<lowbit::mode::mxfp4, false>)       \
  LOWBIT_TEST_MATMUL(prefix, K, lowbit::detail::fp_weights<lowbit::mode::nvfp4, false>)       \
  LOWBIT_TEST_MATMUL(prefix, K, lowbit::detail::fp_weights<lowbit::mode::nvfp4, true>)        \
  LOWBIT_TEST_MATMUL(prefix, K, lowbit::detail::fp_weights<lowbit::mode::mxfp8, false>)

#define LOWBIT_TEST_KERNEL_SET(prefix, K)     \
  LOWBIT_TEST_AFFINE_GROUP(prefix, K, 32)     \
  LOWBIT_TEST_AFFINE_GROUP(prefix, K, 64)     \
  LOWBIT_TEST_AFFINE_GROUP(prefix, K, 128)    \
  LOWBIT_TEST_FP_MODES(prefix, K)

#ifndef LOWBIT_TEST_INSTANCES_DEFINITION  // instances.cpp.in defines its part of them
LOWBIT_TEST_KERNEL_SET(extern, lowbit::detail::scalar_kernels)
#if LOWBIT_HAVE_AVX2
LOWBIT_TEST_KERNEL_SET(extern, lowbit::detail::avx2_kernels)
#endif
#if LOWBIT_HAVE_AVX512
LOWBIT_TEST_KERNEL_SET(extern, lowbit::detail::avx512_kernels)
#endif
#if LOWBIT_HAVE_NEON
LOWBIT_TEST_KERNEL_SET(extern, lowbit::detail::neon_kernels)
#endif
#endif

#endif  // LOWBIT_TESTS_INSTANCES_HPP
