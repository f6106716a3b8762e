// lowbit/detail/backend.hpp — the compiler's target (config.hpp) -> one kernel set, `active_kernels`.
//
// The scalar kernels are always compiled. Each SIMD backend header guards itself on the macros it
// needs, so a build for AVX-512 also carries the AVX2 kernels (tests compare both with the scalar
// reference), while only the selected set serves lowbit::dequantize.
#pragma once

#include "../config.hpp"
#include "avx2.hpp"
#include "avx512.hpp"
#include "neon.hpp"
#include "scalar.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {
#if LOWBIT_BACKEND == LOWBIT_BACKEND_AVX512
using active_kernels = avx512_kernels;
#elif LOWBIT_BACKEND == LOWBIT_BACKEND_AVX2
using active_kernels = avx2_kernels;
#elif LOWBIT_BACKEND == LOWBIT_BACKEND_NEON
using active_kernels = neon_kernels;
#else
using active_kernels = scalar_kernels;
#endif
}  // namespace detail
LOWBIT_END_NAMESPACE
