// lowbit/types.hpp — the 2-byte storage types lowbit reads and writes.
//
//   lowbit::half      IEEE 754 binary16: 1 sign, 5 exponent, 10 fraction bits.
//   lowbit::bfloat16  the upper 16 bits of an IEEE binary32 float: 1 sign, 8 exponent, 7 fraction bits.
//
// Both are trivially copyable 2-byte values with no arithmetic of their own. Conversions are explicit:
//
//   lowbit::half h(0.1f);          // float -> half: round to nearest, ties to even
//   float f = float(h);            // half  -> float: exact
//   auto b = lowbit::bfloat16::from_bits(0x3f80);   // 1.0
//
// Narrowing rounds to nearest-even and handles every class of value: subnormal results are kept
// (never flushed to zero), values past the largest finite number become ±inf, ±0 and ±inf keep their
// sign, and NaN stays NaN: it is returned quiet, with as much of its payload as fits (what the F16C,
// AVX512-BF16 and ARM conversion instructions do). Widening is exact; a signalling NaN comes back quiet.
// The code is plain integer arithmetic, so it gives the same bits on every compiler, flag and CPU.
//
// lowbit::storage_of<T> maps the 2-byte types other code uses (_Float16, __fp16, __bf16, and Eigen's
// types when <lowbit/eigen.hpp> is included) onto these, so lowbit can read and write them in place.
#ifndef LOWBIT_TYPES_HPP
#define LOWBIT_TYPES_HPP

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "config.hpp"

namespace lowbit {

// The bit-level conversions behind half and bfloat16 (also usable on raw uint16_t arrays).
namespace conversions {
LOWBIT_ALWAYS_INLINE std::uint32_t float_bits(float f) noexcept {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
LOWBIT_ALWAYS_INLINE float float_from_bits(std::uint32_t u) noexcept {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// float -> binary16, round to nearest even, on the bit pattern.
LOWBIT_ALWAYS_INLINE std::uint16_t float_to_half_bits(float value) noexcept {
  const std::uint32_t x = float_bits(value);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t mag = x & 0x7fffffffu;
  if (mag >= 0x7f800000u) {  // inf or NaN
    if (mag == 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7c00u);
    return static_cast<std::uint16_t>(sign | 0x7e00u | ((mag >> 13) & 0x3ffu));  // quiet, top payload
  }
  if (mag >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  const std::uint32_t exponent = mag >> 23;
  std::uint32_t mantissa, shift;
  if (exponent >= 113) {  // normal half: rebias the exponent, keep 10 of 23 fraction bits
    mantissa = ((exponent - 112) << 23) | (mag & 0x7fffffu);
    shift = 13;
  } else {  // subnormal half (or zero): value = significand * 2^(exponent - 150), in units of 2^-24
    if (exponent < 102) return static_cast<std::uint16_t>(sign);  // below half of the smallest subnormal
    mantissa = (mag & 0x7fffffu) | 0x800000u;
    shift = 126 - exponent;  // 14..24
  }
  std::uint32_t result = mantissa >> shift;
  const std::uint32_t rest = mantissa & ((1u << shift) - 1);
  const std::uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (result & 1u))) ++result;  // a carry may bump the exponent
  return static_cast<std::uint16_t>(sign | result);
}

// binary16 -> float, exact.
LOWBIT_ALWAYS_INLINE float half_bits_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  int exponent = (h >> 10) & 0x1f;
  std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 31) {  // inf, or NaN made quiet
    return float_from_bits(sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0u));
  }
  if (exponent == 0) {
    if (mantissa == 0) return float_from_bits(sign);
    exponent = 1;  // subnormal: normalise the significand
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    mantissa &= 0x3ffu;
  }
  return float_from_bits(sign | (static_cast<std::uint32_t>(exponent + 112) << 23) | (mantissa << 13));
}

// float -> bfloat16, round to nearest even.
LOWBIT_ALWAYS_INLINE std::uint16_t float_to_bfloat16_bits(float value) noexcept {
  const std::uint32_t x = float_bits(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);  // carries reach inf correctly
}

LOWBIT_ALWAYS_INLINE float bfloat16_bits_to_float(std::uint16_t b) noexcept {
  const std::uint32_t x = static_cast<std::uint32_t>(b) << 16;
  if ((x & 0x7fffffffu) > 0x7f800000u) return float_from_bits(x | 0x400000u);  // quiet NaN
  return float_from_bits(x);
}
}  // namespace conversions

/// IEEE 754 binary16 storage. Explicit conversions from float (round to nearest even) and to float (exact).
struct LOWBIT_MAY_ALIAS half {
  half() = default;
  LOWBIT_ALWAYS_INLINE explicit half(float f) noexcept : bits_(conversions::float_to_half_bits(f)) {}
  LOWBIT_ALWAYS_INLINE explicit operator float() const noexcept { return conversions::half_bits_to_float(bits_); }
  static constexpr half from_bits(std::uint16_t bits) noexcept { return half(bits, 0); }
  constexpr std::uint16_t to_bits() const noexcept { return bits_; }

 private:
  constexpr half(std::uint16_t bits, int) noexcept : bits_(bits) {}
  std::uint16_t bits_;
};

/// bfloat16 storage (upper half of a float32). Explicit conversions from float (round to nearest even)
/// and to float (exact).
struct LOWBIT_MAY_ALIAS bfloat16 {
  bfloat16() = default;
  LOWBIT_ALWAYS_INLINE explicit bfloat16(float f) noexcept : bits_(conversions::float_to_bfloat16_bits(f)) {}
  LOWBIT_ALWAYS_INLINE explicit operator float() const noexcept { return conversions::bfloat16_bits_to_float(bits_); }
  static constexpr bfloat16 from_bits(std::uint16_t bits) noexcept { return bfloat16(bits, 0); }
  constexpr std::uint16_t to_bits() const noexcept { return bits_; }

 private:
  constexpr bfloat16(std::uint16_t bits, int) noexcept : bits_(bits) {}
  std::uint16_t bits_;
};

static_assert(sizeof(half) == 2 && std::is_trivially_copyable<half>::value, "half must be 2 trivial bytes");
static_assert(sizeof(bfloat16) == 2 && std::is_trivially_copyable<bfloat16>::value,
              "bfloat16 must be 2 trivial bytes");

/// storage_of<T>::type is the lowbit type whose bit layout T shares (float, half or bfloat16).
/// Specialise it to let lowbit read and write another layout-compatible type in place.
template <class T>
struct storage_of {};
template <>
struct storage_of<float> {
  using type = float;
};
template <>
struct storage_of<half> {
  using type = half;
};
template <>
struct storage_of<bfloat16> {
  using type = bfloat16;
};
#if LOWBIT_HAS_FLOAT16  // the compiler's _Float16
template <>
struct storage_of<_Float16> {
  using type = half;
};
#endif
#if defined(__aarch64__) && defined(__ARM_FP16_FORMAT_IEEE)  // ACLE's storage type, distinct from _Float16
template <>
struct storage_of<__fp16> {
  using type = half;
};
#endif
#if defined(__BFLT16_MAX__)  // the compiler's arithmetic __bf16 (GCC 13+, clang 17+)
template <>
struct storage_of<__bf16> {
  using type = bfloat16;
};
#endif

}  // namespace lowbit

LOWBIT_BEGIN_NAMESPACE
namespace detail {
template <class T, class = void>
struct is_storage_type : std::false_type {};
template <class T>
struct is_storage_type<T, std::void_t<typename storage_of<T>::type>> : std::true_type {};

template <class T>
using storage_t = typename storage_of<T>::type;

// The storage type's name, for messages and benchmarks.
template <class T>
constexpr const char* type_name() noexcept {
  return std::is_same<T, float>::value ? "float" : std::is_same<T, half>::value ? "half" : "bfloat16";
}
}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_TYPES_HPP
