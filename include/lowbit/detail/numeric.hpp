// lowbit/detail/numeric.hpp — the numeric contract of affine dequantize, in one place (docs/format.md).
//
// For a code q with the group's scale s and bias b, both of type S, MLX computes
//
//     v   = round_S( round_S(s * q) + b )     two separate roundings, never a fused multiply-add
//     out = convert_O(v)                      exact widening, or one round-to-nearest-even narrowing
//
// i.e. MLX's `scales * w + biases` evaluated in the scales' dtype, followed by astype(O). This matches
// every MLX golden file bit for bit (tests/golden_test.cpp); requesting float32 output from half
// scales gives exactly the widened half result, not a float32 computation (the wd_f32 arrays).
//
// For half and bfloat16, float32 arithmetic emulates the S arithmetic exactly: s * q is exact in float
// (11 significant bits times 8 bits <= 24), and rounding the float sum of two binary16 (or bfloat16)
// numbers to S equals rounding the exact sum, because 24 >= 2 * 11 + 2 (innocuous double rounding;
// Figueroa, "When is double rounding innocuous?", SIGNUM 1995).
#ifndef LOWBIT_DETAIL_NUMERIC_HPP
#define LOWBIT_DETAIL_NUMERIC_HPP

#include <cstdint>
#include <type_traits>

#include "../config.hpp"
#include "../types.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

// Returns v unchanged, but the compiler can no longer see where it came from. Placed between a
// multiply and an add it keeps them two operations: GCC (-ffp-contract=fast, its default outside
// strict ISO mode) and clang (-ffp-contract=on/fast) would otherwise emit an FMA and round once.
// No flag a user picks can undo an empty asm statement.
template <class V>
LOWBIT_ALWAYS_INLINE V no_contract(V v) noexcept {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__)
#if defined(__AVX512F__)
  __asm__("" : "+v"(v));  // any xmm/ymm/zmm register, including 16..31
#else
  __asm__("" : "+x"(v));
#endif
#elif (defined(__GNUC__) || defined(__clang__)) && (defined(__aarch64__) || defined(__ARM_NEON))
  __asm__("" : "+w"(v));
#elif defined(__GNUC__) || defined(__clang__)
  __asm__("" : "+m"(v));  // other targets: a round trip through memory
#else
  volatile V through_memory = v;  // MSVC and others: volatile cannot be fused across
  v = through_memory;
#endif
  return v;
}

// Whether a value is finite: its exponent is not all ones.
LOWBIT_ALWAYS_INLINE bool finite(float x) noexcept { return (conversions::float_bits(x) & 0x7f800000u) != 0x7f800000u; }
LOWBIT_ALWAYS_INLINE bool finite(half x) noexcept { return (x.to_bits() & 0x7c00u) != 0x7c00u; }
LOWBIT_ALWAYS_INLINE bool finite(bfloat16 x) noexcept { return (x.to_bits() & 0x7f80u) != 0x7f80u; }

// The dequantized value of code q in the scale type S (the first line of the rule above).
LOWBIT_ALWAYS_INLINE float affine_value(float scale, float bias, std::uint32_t q) noexcept {
  return no_contract(scale * static_cast<float>(q)) + bias;
}
template <class S>
LOWBIT_ALWAYS_INLINE S affine_value(S scale, S bias, std::uint32_t q) noexcept {
  static_assert(std::is_same<S, half>::value || std::is_same<S, bfloat16>::value, "S is float, half or bfloat16");
  const float product = static_cast<float>(S(static_cast<float>(scale) * static_cast<float>(q)));  // exact, rounded
  return S(product + static_cast<float>(bias));
}

// convert_O: S -> O (the second line of the rule).
template <class O, class S>
LOWBIT_ALWAYS_INLINE O convert(S v) noexcept {
  if constexpr (std::is_same<O, S>::value) {
    return v;
  } else if constexpr (std::is_same<O, float>::value) {
    return static_cast<float>(v);  // exact
  } else {
    return O(static_cast<float>(v));  // one rounding: the widening to float is exact
  }
}

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_DETAIL_NUMERIC_HPP
