// lowbit/detail/fp_driver.hpp — from a public fp-mode call to a kernel: validation (error.hpp), the one
// switch from a run-time mode to the compile-time kernels, and the walk over the matrix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../config.hpp"
#include "../error.hpp"
#include "../mode.hpp"
#include "fp_scalar.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

template <mode M>
using mode_constant = std::integral_constant<mode, M>;

// Calls f(mode_constant<m>) for a validated fp mode.
template <class F>
void with_fp_mode(mode m, F&& f) {
  switch (m) {
    case mode::mxfp4: return f(mode_constant<mode::mxfp4>{});
    case mode::nvfp4: return f(mode_constant<mode::nvfp4>{});
    default: return f(mode_constant<mode::mxfp8>{});
  }
}

template <class Kernels, mode M, class O>
void fp_dequantize_checked(const std::uint32_t* wq, const std::uint8_t* scales, O* out, std::size_t rows,
                           std::size_t cols, const float* global_scale) {
  check_fp_call("dequantize", M, rows, cols, global_scale, sizeof(O),  // out: the widest array
                {{"wq", wq}, {"scales", scales}, {"out", out}});
  if (rows == 0 || cols == 0) return;
  Kernels::template dequantize<M>(wq, scales, out, rows * (cols / mode_group_size(M)), global_scale);
}

template <class Kernels, class O>
void fp_dequantize_runtime(mode m, const std::uint32_t* wq, const std::uint8_t* scales, O* out, std::size_t rows,
                           std::size_t cols, const float* global_scale) {
  check_fp_mode("dequantize", m);
  with_fp_mode(m, [&](auto mc) {
    fp_dequantize_checked<Kernels, decltype(mc)::value>(wq, scales, out, rows, cols, global_scale);
  });
}

template <mode M, class T>
void fp_quantize_checked(const T* w, std::uint32_t* wq, std::uint8_t* scales, std::size_t rows, std::size_t cols,
                         const float* global_scale) {
  check_fp_call("quantize", M, rows, cols, global_scale, sizeof(T),  // w: the widest array
                {{"w", w}, {"wq", wq}, {"scales", scales}});
  if (rows == 0 || cols == 0) return;
  fp_quantize_groups<M>(w, wq, scales, rows * (cols / mode_group_size(M)), global_scale);
}

template <class T>
void fp_quantize_runtime(mode m, const T* w, std::uint32_t* wq, std::uint8_t* scales, std::size_t rows,
                         std::size_t cols, const float* global_scale) {
  check_fp_mode("quantize", m);
  with_fp_mode(m, [&](auto mc) { fp_quantize_checked<decltype(mc)::value>(w, wq, scales, rows, cols, global_scale); });
}

}  // namespace detail
LOWBIT_END_NAMESPACE
