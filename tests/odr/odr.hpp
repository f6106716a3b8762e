// Two translation units compiled with different ISA flags, each instantiating the same lowbit templates.
// Each backend's code (the Eigen adapter's included) lives in its own inline namespace, so the program links
// without an ODR violation and each unit runs the kernels it was compiled for.
#pragma once

#include <cstddef>
#include <cstdint>

#include <lowbit/types.hpp>

namespace odr {
using dequantize_fn = void (*)(const std::uint32_t* wq, const lowbit::half* scales, const lowbit::half* biases,
                               lowbit::half* out, std::size_t rows, std::size_t cols);
struct unit {
  const char* (*backend_name)();
  dequantize_fn dequantize;
  // With the Eigen adapter (LOWBIT_ODR_EIGEN): its dequantize called on maps of the same arrays, and the
  // address of the adapter's template instance this unit uses. Instances in the backend's ABI namespace are
  // distinct functions; were they not, the linker would keep one of them for both units.
  dequantize_fn eigen_dequantize;
  const void* eigen_instance;
};
unit reference_unit();  // tu_reference.cpp: scalar (x86) or baseline NEON (aarch64)
unit simd_unit();       // tu_simd.cpp: AVX-512 (x86) or NEON with fp16 arithmetic (aarch64)
}  // namespace odr
