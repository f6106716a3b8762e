// lowbit/detail/x86_avx2/kernels.hpp — the AVX2 + F16C kernel set (the interface: detail/backends.hpp).
#ifndef LOWBIT_DETAIL_X86_AVX2_KERNELS_HPP
#define LOWBIT_DETAIL_X86_AVX2_KERNELS_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_AVX2

#include <cstddef>

#include "../kernel_parts.hpp"
#include "../matmul.hpp"
#include "affine.hpp"
#include "fp.hpp"
#include "matmul.hpp"
#include "ops.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

struct avx2_kernels : batched_affine<avx2::batches, 8>,
                      per_group_fp<avx2::fp_group>,
                      streaming_stores<avx2::lines>,
                      lane_matmul<avx2::matmul_lanes> {
  static constexpr const char* name = "avx2";
  static constexpr std::size_t overread = 8;  // chunk loads may read this many bytes past the codes
};

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_AVX2

#endif  // LOWBIT_DETAIL_X86_AVX2_KERNELS_HPP
