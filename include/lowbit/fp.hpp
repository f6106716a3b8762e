// lowbit/fp.hpp — MLX's floating-point quantization modes: mxfp4, nvfp4 (with an optional global scale) and
// mxfp8, dequantize and quantize, bit for bit as MLX computes them. Included by <lowbit/lowbit.hpp>.
//
//   #include <lowbit/lowbit.hpp>
//
//   // A weight quantized by mlx.core.quantize(w, mode="mxfp4"): wq rows x cols/8 words, scales rows x cols/32.
//   std::vector<lowbit::bfloat16> w(rows * cols);                      // MLX's default output type
//   lowbit::dequantize(lowbit::mode::mxfp4, wq, scales, w.data(), rows, cols);
//   lowbit::dequantize<lowbit::mode::mxfp4>(wq, scales, w.data(), rows, cols);        // mode fixed at compile time
//   lowbit::dequantize(lowbit::mode::nvfp4, wq, scales, f32.data(), rows, cols, &g);  // nvfp4, global scale g
//   lowbit::quantize(lowbit::mode::mxfp8, w.data(), wq, scales, rows, cols);          // MLX's quantize, bit for bit
//   lowbit::options opt;  opt.threads = 0;                                            // threads, executor, stores
//   lowbit::dequantize(lowbit::mode::mxfp4, wq, scales, w.data(), rows, cols, opt);
//
//   // From MLX's config.json ("quantization": {"mode": "mxfp4", "bits": 4, "group_size": 32}):
//   const lowbit::mode m = lowbit::parse_mode(mode_string);   // throws lowbit::error for an unknown name
//   lowbit::check_mode(m, bits, group_size);                  // throws if the mode cannot take them
//
// ---- Formats ----------------------------------------------------------------------------------------
//
//   mode   bits group  element codes in wq                         scale code (uint8, one per group)
//   mxfp4  4    32     FP4 E2M1: ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}      E8M0: 2^(code - 127)
//   nvfp4  4    16     FP4 E2M1                                    FP8 E4M3, optional float32 global scale
//   mxfp8  8    32     FP8 E4M3                                    E8M0
//
//   wq      rows x (cols * bits / 32) uint32 words, row-major; the same LSB-first stream as affine: a 4-bit
//           element 2k is the low nibble of byte k and element 2k+1 its high nibble; an 8-bit element is a
//           byte. E2M1 codes: bit 3 is the sign, codes 0..7 are 0, 0.5, 1, 1.5, 2, 3, 4, 6.
//   scales  rows x (cols / group_size) uint8 codes, row-major. No biases.
//   out     rows x cols values of OutT (float, lowbit::half, lowbit::bfloat16, or a type storage_of maps
//           onto one of them); MLX's default output type for these modes is bfloat16, and float32 for
//           nvfp4 with a global scale.
//
// ---- What MLX computes (the rules lowbit follows) -------------------------------------------------------
// Ground truth: MLX's CPU output in tests/data/mlx-golden (ml-explore/mlx 846d176, 2026-08-22), which
// tests/fp_golden_test.cpp reproduces bit for bit through this API; where those files are silent, MLX's
// source (mlx/backend/cpu/quantized.cpp, mlx/backend/cpu/unary_ops.h, mlx/ops.cpp).
//
// Dequantize (detail/fp_numeric.hpp), in the OUTPUT type O — not in float32:
//   * the element is its E2M1 or E4M3 value, exact in every O;
//   * the scale is decoded and rounded to O: E4M3 exactly; E8M0 code c as the bfloat16 with bits c << 7
//     (2^(c-127); code 0 is bits 0x0040 = 2^-127, not 0; code 255 is +Inf), then converted to O, so for
//     half output codes below 103 give 0 and codes above 142 give +Inf;
//   * out = round_O(scale * value): one rounding to O. (Golden: wd in bfloat16 and wd_f32 in float32,
//     all 9 files without a global scale, match this and only this.)
//   * E4M3 has no Inf and no NaN: 0x7F / 0xFF decode to ±480 (MLX's FP8 lookup table). The golden files
//     contain no 0x7F byte, so this one rule is from MLX's source, not from data.
//   * nvfp4 with a global scale g (float32): scale = float(e4m3(c)) * float(g / 2688), 2688 = 448 * 6,
//     computed in float32, and out = convert_O(float(scale * value)). MLX returns float32 here (golden:
//     wd and wd_f32 of the 3 *_gscale files match; (e4m3(c) / 2688) * g matches them too, the order used
//     is the MLX GPU kernels'); another O gets one more RNE conversion of that float32 result.
//   * Inf * 0 (E8M0 code 255, or a half-overflowing scale, times a zero element) is NaN: the platform's
//     default NaN (x86: sign bit set; ARM: clear), as MLX on the same platform. A NaN global scale
//     propagates.
//
// Quantize (detail/scalar/fp.hpp, fp_quantize_groups), in the INPUT type T = float, half or bfloat16,
// exactly as MLX's fp_quantize (golden: wq and scales of all 12 fp files match bit for bit):
//   * amax = max |w| of the group; s = round_T(amax / maxval), maxval 6 (fp4) or 448 (mxfp8);
//   * mxfp4, mxfp8: e = 0 if s == 0, else rint(round_T(log2(s))) (ties to even), scale code = e + 127
//     (as uint8, so it wraps for e < -127: MLX does not clamp); elements q = round_T(w / round_T(2^e));
//   * nvfp4: scale code = E4M3(s); q = round_T(w / e4m3(code)). With a global scale g:
//     scale code = E4M3(float(s) * (2688 / g)) and q = float(round_T(w / e4m3(code))) * (2688 / g);
//   * E2M1 code of q: the FIRST nearest table entry, distances rounded to T: ties go to the smaller
//     magnitude (2.5 -> 2, -0.75 -> -0.5), small negatives give +0 (code 0), NaN and ±Inf give code 0;
//   * E4M3 code of q: round to nearest even, |q| >= 448 (and Inf, NaN) saturate to ±448 (0x7E), so 0x7F is
//     never written; subnormals below 2^-6 are kept;
//   * a group whose E4M3 scale underflows to 0 gets all codes 0 (0/0 and w/0 are NaN or Inf), so it
//     dequantizes to 0 (nvfp4 row 4 of the golden data).
//   Inputs with NaN or Inf (not in the golden data) follow the same operations; where MLX converts a
//   non-finite exponent to int32 (C++ leaves it undefined) lowbit uses x86-64's result, INT32_MIN.
//
// ---- Errors ------------------------------------------------------------------------------------------
// lowbit::error (nothing written to any output) for: mode affine or a value that is not a lowbit::mode,
// a global_scale with a mode other than nvfp4, cols not a multiple of the mode's group size, rows * cols
// overflowing size_t, a null pointer with a non-empty shape. rows == 0 or cols == 0 is a no-op. E.g.
//   [lowbit::dequantize] global_scale is only used by nvfp4; mode mxfp4 takes none (pass nullptr)
//   [lowbit::dequantize] mode nvfp4 requires cols to be a multiple of its group_size 16; got cols 40
//   [lowbit::check_mode] mode mxfp4 requires group_size 32; got 64
//   [lowbit::parse_mode] unknown mode "fp4"; supported: affine, mxfp4, nvfp4, mxfp8
//
// ---- Backends -------------------------------------------------------------------------------------------
// The same as affine (lowbit::backend_name()): per-group tables of the 16 exact E2M1 outputs looked up with
// vpermps/vpermw (AVX-512), vpermps/pshufb (AVX2) or tbl (NEON); mxfp8 decodes E4M3 through binary16
// conversions. All are bit-identical to lowbit::scalar::dequantize.
#ifndef LOWBIT_FP_HPP
#define LOWBIT_FP_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config.hpp"
#include "detail/backends.hpp"
#include "detail/driver.hpp"
#include "error.hpp"
#include "mode.hpp"
#include "parallel.hpp"
#include "types.hpp"

LOWBIT_BEGIN_NAMESPACE

/// Dequantizes a rows x cols matrix of fp mode m (mxfp4, nvfp4, mxfp8): out = scale * value as MLX computes
/// it (see the top of this file). global_scale: nullptr, or for nvfp4 a pointer to the float32 global scale.
/// Throws lowbit::error for an invalid argument; nothing is written then.
template <class OutT>
void dequantize(mode m, const std::uint32_t* wq, const std::uint8_t* scales, OutT* out, std::size_t rows,
                std::size_t cols, const float* global_scale = nullptr) {
  dequantize(m, wq, scales, out, rows, cols, options(), global_scale);
}

/// The same with threads (lowbit's or an executor of yours) and the store policy in `opt` (parallel.hpp);
/// opt.bits and opt.group_size are not used: the mode fixes them. Bit-identical to the call above.
template <class OutT>
void dequantize(mode m, const std::uint32_t* wq, const std::uint8_t* scales, OutT* out, std::size_t rows,
                std::size_t cols, const options& opt, const float* global_scale = nullptr) {
  detail::dequantize_fp_of<detail::active_kernels>(m, wq, scales, out, rows, cols, global_scale, opt);
}

/// The same with the mode fixed at compile time: lowbit::dequantize<lowbit::mode::nvfp4>(wq, scales, out, r, c).
template <mode M, class OutT>
void dequantize(const std::uint32_t* wq, const std::uint8_t* scales, OutT* out, std::size_t rows, std::size_t cols,
                const float* global_scale = nullptr) {
  static_assert(is_fp_mode(M), "lowbit: dequantize<mode> takes mxfp4, nvfp4 or mxfp8; affine is dequantize<Bits, GroupSize>");
  detail::check_element_type<OutT>();
  detail::dequantize_fp<detail::active_kernels, M>(wq, scales, detail::as_storage(out), rows, cols, global_scale);
}

/// Quantizes a rows x cols matrix w (T = float, half, bfloat16, or a type storage_of maps onto one) in fp mode
/// m exactly as MLX's quantize(w, mode=...) on its CPU: wq (rows x cols*bits/32 words) and scales (rows x
/// cols/group_size codes). global_scale: nullptr, or for nvfp4 the float32 global scale MLX was given.
/// Throws lowbit::error for an invalid argument; nothing is written then.
template <class T>
void quantize(mode m, const T* w, std::uint32_t* wq, std::uint8_t* scales, std::size_t rows, std::size_t cols,
              const float* global_scale = nullptr) {
  detail::check_element_type<T>();
  detail::quantize_fp(m, detail::as_storage(w), wq, scales, rows, cols, global_scale);
}

/// The same with the mode fixed at compile time.
template <mode M, class T>
void quantize(const T* w, std::uint32_t* wq, std::uint8_t* scales, std::size_t rows, std::size_t cols,
              const float* global_scale = nullptr) {
  static_assert(is_fp_mode(M), "lowbit: quantize<mode> takes mxfp4, nvfp4 or mxfp8; affine is quantize(w, wq, scales, biases, ...)");
  detail::check_element_type<T>();
  detail::quantize_fp<M>(detail::as_storage(w), wq, scales, rows, cols, global_scale);
}

/// Parses MLX's mode string ("affine", "mxfp4", "nvfp4", "mxfp8"); throws lowbit::error for anything else.
inline mode parse_mode(std::string_view name) {
  mode m = mode::affine;
  if (!try_parse_mode(name, m)) detail::fail_unknown_mode("parse_mode", name);
  return m;
}

/// Checks bits and group_size read from a configuration against mode m: an fp mode requires its own
/// (mode_bits(m), mode_group_size(m)); affine takes what the affine API takes. Throws lowbit::error.
inline void check_mode(mode m, int bits, int group_size) { detail::check_mode_config("check_mode", m, bits, group_size); }

namespace scalar {
/// The scalar reference of the fp modes: the same API, one element at a time.
template <class OutT>
void dequantize(mode m, const std::uint32_t* wq, const std::uint8_t* scales, OutT* out, std::size_t rows,
                std::size_t cols, const options& opt, const float* global_scale = nullptr) {
  detail::dequantize_fp_of<detail::scalar_kernels>(m, wq, scales, out, rows, cols, global_scale, opt);
}
template <class OutT>
void dequantize(mode m, const std::uint32_t* wq, const std::uint8_t* scales, OutT* out, std::size_t rows,
                std::size_t cols, const float* global_scale = nullptr) {
  scalar::dequantize(m, wq, scales, out, rows, cols, options(), global_scale);
}
using lowbit::quantize;  // quantize has one implementation, the scalar one
}  // namespace scalar

LOWBIT_END_NAMESPACE

#endif  // LOWBIT_FP_HPP
