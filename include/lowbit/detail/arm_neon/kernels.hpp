// lowbit/detail/arm_neon/kernels.hpp — the NEON kernel set (the interface: detail/backends.hpp).
#ifndef LOWBIT_DETAIL_ARM_NEON_KERNELS_HPP
#define LOWBIT_DETAIL_ARM_NEON_KERNELS_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_NEON

#include <cstddef>

#include "../kernel_parts.hpp"
#include "../matmul.hpp"
#include "affine.hpp"
#include "fp.hpp"
#include "matmul.hpp"
#include "ops.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

// NEON's only non-temporal store is stnp, a hint Apple cores ignore: results are stored normally.
struct neon_kernels : neon::affine_groups, neon::fp_groups, regular_stores,
                      lane_matmul<neon::matmul_lanes> {
  static constexpr const char* name = LOWBIT_NEON_FP16 && LOWBIT_NEON_BF16 ? "neon-fp16-bf16"
                                      : LOWBIT_NEON_FP16                   ? "neon-fp16"
                                      : LOWBIT_NEON_BF16                   ? "neon-bf16"
                                                                           : "neon";
  static constexpr std::size_t overread = 16;  // chunk loads may read this many bytes past the codes
};

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_NEON

#endif  // LOWBIT_DETAIL_ARM_NEON_KERNELS_HPP
