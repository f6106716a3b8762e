// lowbit — MLX low-bit weights back to float32 / float16 / bfloat16, bit-exactly as MLX, and fast.
//
//   #include <lowbit/lowbit.hpp>
//
//   // 4-bit, group size 64 (MLX's defaults), half scales and biases, half output:
//   lowbit::dequantize<4, 64>(wq, scales, biases, out, rows, cols);        // configuration fixed at compile time
//   lowbit::dequantize(wq, scales, biases, out, rows, cols, bits, group);  // configuration read at run time
//   lowbit::quantize(w, wq, scales, biases, rows, cols, bits, group);      // MLX's quantize, bit for bit
//
// The format (MLX "affine" mode; see format.hpp for the packing):
//   wq      rows x (cols * bits / 32) uint32 words, each row one LSB-first bit stream of bits-wide codes
//   scales  rows x (cols / group_size) values of ScaleT (float, lowbit::half or lowbit::bfloat16)
//   biases  same shape and type as scales
//   out     rows x cols values of OutT (float, lowbit::half or lowbit::bfloat16), row-major
// rows is the product of all leading dimensions of the weight, cols its last dimension.
//
// The value of each element, with q its code and (s, b) its group's scale and bias (detail/numeric.hpp):
//   out = convert_OutT( round_ScaleT( round_ScaleT(s * q) + b ) )
// This is what MLX computes: w = s * q + b, in the scales' dtype, then astype(OutT). (Older MLX docs
// wrote w = s * q - b; MLX has always added the bias, and so does lowbit. Biases stored with the opposite
// sign — e.g. converted from zero-point formats — must be negated first: subtracting b is adding -b.)
//
// Supported: bits 1..8 (MLX ships 2, 3, 4, 5, 6, 8; 1 and 7 follow the same packing rule), group sizes
// 32, 64, 128, and all nine ScaleT x OutT pairs. ScaleT and OutT may also be any type lowbit::storage_of
// maps onto these (the compiler's _Float16 / __fp16 / __bf16; Eigen::half and Eigen::bfloat16 with
// <lowbit/eigen.hpp>): their arrays are read and written in place.
//
// Errors: the run-time overloads throw lowbit::error (a std::invalid_argument) for unsupported bits or
// group_size, cols not a multiple of group_size, rows * cols overflowing size_t, or a null pointer with a
// non-empty shape; rows == 0 or cols == 0 is a no-op. The compile-time overload rejects bad Bits or
// GroupSize with a static_assert and checks the rest like the run-time one. Nothing is written to any
// output when an error is thrown.
//
// Threads, your own executor and the store policy: the overloads taking lowbit::options (parallel.hpp).
// The floating-point modes mxfp4, nvfp4 and mxfp8: fp.hpp. The format and numeric contract in full:
// docs/format.md.
//
// Backends: the best SIMD kernels the compiler targets (AVX-512, AVX2, NEON) are chosen at compile time;
// all are bit-identical to the scalar reference, lowbit::scalar::dequantize. See config.hpp to force one,
// and lowbit::backend_name() for the active one.
#ifndef LOWBIT_LOWBIT_HPP
#define LOWBIT_LOWBIT_HPP

#include <cstddef>
#include <cstdint>

#include "config.hpp"
#include "detail/backends.hpp"
#include "detail/driver.hpp"
#include "error.hpp"
#include "format.hpp"
#include "fp.hpp"      // the floating-point modes: mxfp4, nvfp4, mxfp8
#include "matmul.hpp"  // quantized_matmul
#include "parallel.hpp"
#include "types.hpp"

LOWBIT_BEGIN_NAMESPACE

/// Dequantizes a rows x cols matrix with Bits and GroupSize fixed at compile time.
/// Throws lowbit::error for cols not a multiple of GroupSize, rows * cols overflowing, or null pointers.
template <int Bits, int GroupSize, class ScaleT, class OutT>
void dequantize(const std::uint32_t* wq, const ScaleT* scales, const ScaleT* biases, OutT* out, std::size_t rows,
                std::size_t cols) {
  detail::check_config<Bits, GroupSize>();
  detail::check_types<ScaleT, OutT>();
  detail::dequantize_affine<detail::active_kernels, Bits, GroupSize>(
      wq, detail::as_storage(scales), detail::as_storage(biases), detail::as_storage(out), rows, cols);
}

/// The same with bits, group_size, threads (lowbit's or an executor of yours) and the store policy in
/// `opt` (parallel.hpp). Bit-identical to the single-threaded call. Throws lowbit::error for any invalid
/// argument (see the top of this file).
template <class ScaleT, class OutT>
void dequantize(const std::uint32_t* wq, const ScaleT* scales, const ScaleT* biases, OutT* out, std::size_t rows,
                std::size_t cols, const options& opt) {
  detail::check_types<ScaleT, OutT>();
  detail::dequantize_affine<detail::active_kernels>(wq, detail::as_storage(scales), detail::as_storage(biases),
                                                    detail::as_storage(out), rows, cols, opt);
}

/// Dequantizes a rows x cols matrix with bits and group_size given at run time (MLX's defaults: 4, 64).
template <class ScaleT, class OutT>
void dequantize(const std::uint32_t* wq, const ScaleT* scales, const ScaleT* biases, OutT* out, std::size_t rows,
                std::size_t cols, int bits = default_bits, int group_size = default_group_size) {
  dequantize(wq, scales, biases, out, rows, cols, detail::config_options(bits, group_size));
}

/// Quantizes a rows x cols matrix w exactly as MLX's quantize(w, group_size, bits) does on its CPU
/// backend: wq (rows x cols*bits/32 words), scales and biases (rows x cols/group_size, in T).
/// T is float, lowbit::half or lowbit::bfloat16 (or a type storage_of maps onto one).
/// Throws lowbit::error for any invalid argument; nothing is written then.
template <class T>
void quantize(const T* w, std::uint32_t* wq, T* scales, T* biases, std::size_t rows, std::size_t cols,
              int bits = default_bits, int group_size = default_group_size) {
  detail::check_types<T, T>();
  detail::quantize_affine(detail::as_storage(w), wq, detail::as_storage(scales), detail::as_storage(biases), rows,
                          cols, bits, group_size);
}

/// The name of the active backend: "scalar", "avx2", "avx512", "avx512-vbmi", "neon", "neon-fp16",
/// "neon-bf16" or "neon-fp16-bf16".
inline const char* backend_name() noexcept { return detail::active_kernels::name; }

/// The scalar reference, always compiled: the same API, one element at a time, no SIMD. Every backend is
/// tested to produce exactly its bits.
namespace scalar {
template <int Bits, int GroupSize, class ScaleT, class OutT>
void dequantize(const std::uint32_t* wq, const ScaleT* scales, const ScaleT* biases, OutT* out, std::size_t rows,
                std::size_t cols) {
  detail::check_config<Bits, GroupSize>();
  detail::check_types<ScaleT, OutT>();
  detail::dequantize_affine<detail::scalar_kernels, Bits, GroupSize>(
      wq, detail::as_storage(scales), detail::as_storage(biases), detail::as_storage(out), rows, cols);
}
template <class ScaleT, class OutT>
void dequantize(const std::uint32_t* wq, const ScaleT* scales, const ScaleT* biases, OutT* out, std::size_t rows,
                std::size_t cols, const options& opt) {
  detail::check_types<ScaleT, OutT>();
  detail::dequantize_affine<detail::scalar_kernels>(wq, detail::as_storage(scales), detail::as_storage(biases),
                                                    detail::as_storage(out), rows, cols, opt);
}
template <class ScaleT, class OutT>
void dequantize(const std::uint32_t* wq, const ScaleT* scales, const ScaleT* biases, OutT* out, std::size_t rows,
                std::size_t cols, int bits = default_bits, int group_size = default_group_size) {
  scalar::dequantize(wq, scales, biases, out, rows, cols, detail::config_options(bits, group_size));
}
using lowbit::quantize;  // quantize has one implementation, the scalar one
}  // namespace scalar

LOWBIT_END_NAMESPACE

#endif  // LOWBIT_LOWBIT_HPP
