// lowbit/detail/x86_avx512/kernels.hpp — the AVX-512 kernel set (the interface: detail/backends.hpp).
#ifndef LOWBIT_DETAIL_X86_AVX512_KERNELS_HPP
#define LOWBIT_DETAIL_X86_AVX512_KERNELS_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_AVX512

#include <cstddef>

#include "../kernel_parts.hpp"
#include "../matmul.hpp"
#include "affine.hpp"
#include "fp.hpp"
#include "matmul.hpp"
#include "ops.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

struct avx512_kernels : batched_affine<avx512::batches, 16>,
                        avx512::fp_groups,
                        streaming_stores<avx512::lines>,
                        lane_matmul<avx512::matmul_lanes> {
  static constexpr const char* name = LOWBIT_AVX512_VBMI ? "avx512-vbmi" : "avx512";
  static constexpr std::size_t overread = 32;  // chunk loads may read this many bytes past the codes
};

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_AVX512

#endif  // LOWBIT_DETAIL_X86_AVX512_KERNELS_HPP
