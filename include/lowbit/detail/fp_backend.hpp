// lowbit/detail/fp_backend.hpp — the compiler's target (config.hpp) -> one fp kernel set, `active_fp_kernels`
// (the fp-mode counterpart of backend.hpp, with the same selection).
#pragma once

#include "../config.hpp"
#include "fp_scalar.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {
using active_fp_kernels = scalar_fp_kernels;
}  // namespace detail
LOWBIT_END_NAMESPACE
