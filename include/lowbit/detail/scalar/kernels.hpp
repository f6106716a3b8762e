// lowbit/detail/scalar/kernels.hpp — the scalar kernel set (the interface: detail/backends.hpp): the
// oracle every SIMD kernel set is tested against, and the active set where no SIMD one applies.
#ifndef LOWBIT_DETAIL_SCALAR_KERNELS_HPP
#define LOWBIT_DETAIL_SCALAR_KERNELS_HPP

#include <cstddef>

#include "../../config.hpp"
#include "../kernel_parts.hpp"
#include "../matmul.hpp"
#include "affine.hpp"
#include "fp.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

// Portable C++ has no streaming stores.
struct scalar_kernels : scalar_affine, scalar_fp, regular_stores, scalar_matmul {
  static constexpr const char* name = "scalar";
  static constexpr std::size_t overread = 0;  // reads exactly the codes it is given
};

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_DETAIL_SCALAR_KERNELS_HPP
