// lowbit/detail/fp_numeric.hpp — the numeric rules of the floating-point modes (mxfp4, nvfp4, mxfp8), in
// one place: element and scale decoding, the dequantize product, and the encoders quantize uses. Every
// rule is what MLX's CPU backend computes, checked bit for bit against tests/data/mlx-golden; fp.hpp
// documents them for users, with their sources.
//
// Dequantize, for an element with value v (E2M1 or E4M3, exact in every output type) in a group with
// scale code c, output type O:
//
//   sf  = float(round_O(scale(c)))                 no global scale: MLX computes in O
//   sf  = float(e4m3(c)) * float(g / 2688)         nvfp4 with global scale g: MLX computes in float32
//   out = convert_O( sf * v )                      one float32 multiply, then one RNE conversion to O
//
// Without a global scale this is MLX's `scale * value` evaluated in O: the float32 product of two values
// of O (or of an O-rounded power of two and a 4-bit float) is exact, so rounding it to O once is the
// correctly rounded product in O. With a global scale MLX's result is float32 (the global scale promotes
// it); an output type other than float then takes one more RNE conversion, as MLX's astype would.
#ifndef LOWBIT_DETAIL_FP_NUMERIC_HPP
#define LOWBIT_DETAIL_FP_NUMERIC_HPP

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "../config.hpp"
#include "../mode.hpp"
#include "../types.hpp"
#include "numeric.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace fp {

// ---- element values ---------------------------------------------------------------------------------
// E2M1 (1 sign, 2 exponent, 1 mantissa bits; bit 3 is the sign): MLX's FP4_LUT.
constexpr float e2m1_values[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                   -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

// E4M3 (1 sign, 4 exponent with bias 7, 3 mantissa bits) as MLX decodes it: no infinities and no NaN;
// the bytes 0x7F / 0xFF, NaN in the OCP format, are ±480 (the next step after 448). Equivalently, the low
// seven bits shifted left by 7 are a binary16 whose value times 256 is the magnitude (the SIMD kernels
// decode that way).
constexpr float e4m3_magnitude(unsigned low7) noexcept {
  const unsigned e = low7 >> 3, m = low7 & 7u;
  float scale = 1.0f / 512.0f;  // 2^-9: the subnormal step, and 2^(e - 10) for e = 1
  for (unsigned i = 1; i < e; ++i) scale *= 2.0f;
  return e == 0 ? static_cast<float>(m) * scale : static_cast<float>(8u + m) * scale;
}
constexpr std::array<float, 256> make_e4m3_values() noexcept {
  std::array<float, 256> t{};
  for (unsigned c = 0; c < 256; ++c) t[c] = (c & 0x80u) ? -e4m3_magnitude(c & 0x7fu) : e4m3_magnitude(c);
  return t;
}
constexpr std::array<float, 256> e4m3_values = make_e4m3_values();

// ---- scales -------------------------------------------------------------------------------------------
// E8M0 (a biased exponent): MLX decodes code c as the bfloat16 with bits c << 7, i.e. 2^(c - 127), except
// that code 0 becomes bits 0x0040 = 2^-127 (a bfloat16 subnormal; c << 7 would be zero). Code 255 is
// bits 0x7F80 = +Inf. Source: dequantize_scale in mlx/backend/cpu/quantized.cpp.
constexpr std::uint16_t e8m0_bfloat16_bits(std::uint8_t c) noexcept {
  return static_cast<std::uint16_t>(c == 0 ? 0x0040u : static_cast<unsigned>(c) << 7);
}

// float -> O with lowbit's conversions (RNE, subnormals kept, NaN quiet); O = float is the identity.
template <class O>
LOWBIT_ALWAYS_INLINE O to(float x) noexcept {
  if constexpr (std::is_same<O, float>::value) {
    return x;
  } else {
    return O(x);
  }
}
template <class O>
LOWBIT_ALWAYS_INLINE float widen(O x) noexcept {
  return static_cast<float>(x);
}

// The per-group factor sf of the rule above, without a global scale: the group's scale rounded to O,
// as a float (exact).
template <mode M, class O>
LOWBIT_ALWAYS_INLINE float scale_factor(std::uint8_t c) noexcept {
  if constexpr (M == mode::nvfp4) {
    return widen(to<O>(e4m3_values[c]));  // exact in every O: E4M3 has 4 significant bits, |x| <= 480
  } else {
    return widen(to<O>(static_cast<float>(bfloat16::from_bits(e8m0_bfloat16_bits(c)))));
  }
}

// The same for E8M0 codes without conversions, for the SIMD kernels (tests check it against scale_factor
// for all 256 codes and the three output types): 2^(c-127) is the float with bits c << 23, except code 0
// (2^-127, bits 0x00400000); in half it is 0 below 2^-24 (codes <= 102: 2^-25 ties to even, i.e. 0) and
// +Inf above 2^15 (codes >= 143).
template <class O>
LOWBIT_ALWAYS_INLINE float e8m0_factor(std::uint8_t c) noexcept {
  if constexpr (std::is_same<O, half>::value) {
    if (c <= 102) return 0.0f;
    if (c >= 143) return std::numeric_limits<float>::infinity();
  }
  return conversions::float_from_bits(c == 0 ? 0x00400000u : static_cast<std::uint32_t>(c) << 23);
}

// nvfp4 with a global scale g: the decode factor g / (448 * 6), computed once per call in float32 (the
// order of the MLX kernels: scale * (global_scale / (F8E4M3_MAX * F4E2M1_MAX))), and the group factor.
LOWBIT_ALWAYS_INLINE float global_decode(float g) noexcept { return g / 2688.0f; }
LOWBIT_ALWAYS_INLINE float global_scale_factor(std::uint8_t c, float decode) noexcept {
  return e4m3_values[c] * decode;
}

// The group factor sf as the SIMD kernels compute it (equal to the above; nvfp4's E4M3 scale is exact in
// every O, so it needs no rounding).
template <mode M, class O, bool Global>
LOWBIT_ALWAYS_INLINE float group_factor(std::uint8_t c, float decode) noexcept {
  if constexpr (Global) {
    return global_scale_factor(c, decode);
  } else if constexpr (M == mode::nvfp4) {
    return e4m3_values[c];
  } else {
    return e8m0_factor<O>(c);
  }
}

// The value of an element: convert_O(sf * v), for a finite sf (then sf * v is finite or ±Inf, never NaN).
template <class O>
LOWBIT_ALWAYS_INLINE O value(float sf, float v) noexcept {
  return to<O>(sf * v);  // a product alone: nothing for the compiler to fuse
}

// The target's default NaN: what its multiply returns for Inf * 0 (x86: the "real indefinite", sign set).
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
constexpr std::uint32_t default_nan_bits = 0xffc00000u;
#else
constexpr std::uint32_t default_nan_bits = 0x7fc00000u;
#endif

// sf * v for a non-finite sf, written out as IEEE multiplication defines it on the target: a NaN sf comes
// back quiet with its payload, Inf * 0 is the default NaN, Inf * v is a signed Inf. Written out because
// compilers do not preserve NaN signs: GCC rewrites x * -c as -(x * c), and folds Inf * 0 to +NaN when it
// can see the Inf, so the bits of a computed NaN would depend on the optimiser. Every kernel sends groups
// with a non-finite sf here.
template <class O>
LOWBIT_ALWAYS_INLINE O nonfinite_value(float sf, float v) noexcept {
  const std::uint32_t s = conversions::float_bits(sf);
  if (sf != sf) return to<O>(conversions::float_from_bits(s | 0x00400000u));
  if (v == 0.0f) return to<O>(conversions::float_from_bits(default_nan_bits));
  const std::uint32_t sign = (s ^ conversions::float_bits(v)) & 0x80000000u;
  return to<O>(conversions::float_from_bits(sign | 0x7f800000u));
}

// ---- encoders (quantize) ----------------------------------------------------------------------------
// float -> E4M3 byte exactly as MLX's detail::ToFP8 (mlx/backend/cpu/unary_ops.h): round to nearest even,
// |x| >= 448 (and Inf, NaN) saturate to 448 (0x7E) with x's sign bit, so 0x7F is never produced; below
// 2^-6 the subnormal grid is rounded by one float addition of 2^14.
inline std::uint8_t to_e4m3(float x) noexcept {
  std::uint32_t bits = conversions::float_bits(x);
  const std::uint32_t sign = bits & 0x80000000u;
  bits ^= sign;
  std::uint32_t code;
  if (bits >= (543u << 21)) {  // 448.0f
    code = 0x7Eu;
  } else if (bits < (121u << 23)) {  // below 2^-6: subnormal E4M3
    const float sum = conversions::float_from_bits(bits) + 16384.0f;
    code = conversions::float_bits(sum) - (141u << 23);
  } else {  // rebias the exponent, round the mantissa to 3 bits (ties to even)
    const std::uint32_t odd = (bits >> 20) & 1u;
    code = (bits + (static_cast<std::uint32_t>(7 - 127) << 23) + 0x7FFFFu + odd) >> 20;
  }
  return static_cast<std::uint8_t>((code & 0xFFu) | (sign >> 24));
}

// MLX's float -> int32 conversion of a rounded exponent, as on x86-64 (cvttss2si): NaN and values out of
// range give INT32_MIN. (C++ leaves that case undefined; this makes it defined and matches MLX on x86.)
inline std::int32_t to_int32_x86(float r) noexcept {
  if (!(r >= -2147483648.0f && r < 2147483648.0f)) return std::numeric_limits<std::int32_t>::min();
  return static_cast<std::int32_t>(r);
}

// round_T(a / b) for values of T, computed in float (for half and bfloat16 the float quotient rounded to
// T equals the correctly rounded quotient in T: innocuous double rounding, see numeric.hpp).
template <class T>
LOWBIT_ALWAYS_INLINE T div(T a, T b) noexcept {
  return to<T>(widen(a) / widen(b));
}

// The shared exponent of an E8M0 group, as MLX's fp_quantize computes it in the input type T:
//   s = round_T(amax / maxval); e = 0 if s == 0, else int32(rint(round_T(log2f(s))));
// log2f is evaluated as the float rounding of a double log2 (correctly rounded in practice; glibc's log2f
// agrees on every input where the result matters, see tests/fp_api_test.cpp).
template <class T>
inline std::int32_t e8m0_exponent(T s) noexcept {
  const float sf = widen(s);
  if (sf == 0.0f) return 0;
  const float l = static_cast<float>(std::log2(static_cast<double>(sf)));
  return to_int32_x86(std::rint(widen(to<T>(l))));
}

// MLX's power(2, e) in T (e converted to T first; exact, or 0 when it underflows T).
template <class T>
inline T pow2(std::int32_t e) noexcept {
  if (e == std::numeric_limits<std::int32_t>::min()) return to<T>(0.0f);
  if (e < -160) return to<T>(0.0f);
  if (e > 160) return to<T>(std::numeric_limits<float>::infinity());
  return to<T>(std::ldexp(1.0f, static_cast<int>(e)));
}

// The E2M1 code of q: MLX's argmin(|q - FP4_LUT|), the first of equal distances, with each distance
// rounded to T (the type MLX computes in). So a tie goes to the smaller magnitude, a negative value that
// rounds to zero gets +0 (code 0, not 8), and NaN or ±Inf get code 0.
template <class T>
inline std::uint8_t e2m1_code(T q) noexcept {
  const float x = widen(q);
  if (x != x) return 0;
  std::uint8_t best = 0;
  float best_distance = std::abs(widen(to<T>(x - e2m1_values[0])));
  for (std::uint8_t i = 1; i < 16; ++i) {
    const float d = std::abs(widen(to<T>(x - e2m1_values[i])));
    if (d < best_distance) {
      best_distance = d;
      best = i;
    }
  }
  return best;
}

}  // namespace fp
}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_DETAIL_FP_NUMERIC_HPP
