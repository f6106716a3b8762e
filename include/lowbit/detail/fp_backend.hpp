// lowbit/detail/fp_backend.hpp — the compiler's target (config.hpp) -> one fp kernel set, `active_fp_kernels`
// (the fp-mode counterpart of backend.hpp, with the same selection).
//
// The scalar fp kernels are always compiled; each SIMD fp header guards itself on the macros it needs, so a
// build for AVX-512 also carries the AVX2 fp kernels for the tests.
#pragma once

#include "../config.hpp"
#include "fp_avx2.hpp"
#include "fp_avx512.hpp"
#include "fp_neon.hpp"
#include "fp_scalar.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {
#if LOWBIT_BACKEND == LOWBIT_BACKEND_AVX512
using active_fp_kernels = avx512_fp_kernels;
#elif LOWBIT_BACKEND == LOWBIT_BACKEND_AVX2
using active_fp_kernels = avx2_fp_kernels;
#elif LOWBIT_BACKEND == LOWBIT_BACKEND_NEON
using active_fp_kernels = neon_fp_kernels;
#else
using active_fp_kernels = scalar_fp_kernels;
#endif
}  // namespace detail
LOWBIT_END_NAMESPACE
