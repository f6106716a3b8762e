// Two translation units compiled with different ISA flags, each instantiating the same lowbit templates.
// Each backend's code lives in its own inline namespace, so the program links without an ODR violation
// and each unit runs the kernels it was compiled for.
#pragma once

#include <cstddef>
#include <cstdint>

#include <lowbit/types.hpp>

namespace odr {
struct unit {
  const char* (*backend_name)();
  void (*dequantize)(const std::uint32_t* wq, const lowbit::half* scales, const lowbit::half* biases,
                     lowbit::half* out, std::size_t rows, std::size_t cols);
};
unit reference_unit();  // tu_reference.cpp: scalar (x86) or baseline NEON (aarch64)
unit simd_unit();       // tu_simd.cpp: AVX-512 (x86) or NEON with fp16 arithmetic (aarch64)
}  // namespace odr
