// lowbit/detail/arm_neon/ops.hpp — the NEON (aarch64) primitives every kernel is built from: code unpacking
// into bytes, exact conversions and roundings to half and bfloat16 (with bfcvtn where the target has it),
// finiteness checks, broadcasts, and stores through an advancing pointer.
#ifndef LOWBIT_DETAIL_ARM_NEON_OPS_HPP
#define LOWBIT_DETAIL_ARM_NEON_OPS_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_NEON

#include <arm_neon.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../../format.hpp"
#include "../../types.hpp"
#include "../numeric.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace neon {

// ---- unpacking: 16 consecutive codes into bytes ----------------------------------------------------
// Generic (1, 2, 3, 5, 6, 7 bits): 16-bit lane i gathers bytes b and b+1 (b = i*Bits / 8) with tbl,
// shifts right by (i*Bits) % 8, and the low bytes are kept. Reads 16 bytes from p.
template <int Bits, int First>
constexpr std::array<std::uint8_t, 16> pair_windows() {
  std::array<std::uint8_t, 16> idx{};
  for (int i = 0; i < 8; ++i) {
    idx[2 * i] = static_cast<std::uint8_t>((First + i) * Bits / 8);
    idx[2 * i + 1] = static_cast<std::uint8_t>((First + i) * Bits / 8 + 1);
  }
  return idx;
}
template <int Bits, int First>
constexpr std::array<std::int16_t, 8> pair_shifts() {
  std::array<std::int16_t, 8> s{};
  for (int i = 0; i < 8; ++i) s[i] = static_cast<std::int16_t>(-((First + i) * Bits % 8));  // negative: right
  return s;
}

template <int Bits>
LOWBIT_ALWAYS_INLINE uint8x16_t codes16(const std::uint8_t* p) noexcept {
  const uint8x16_t mask = vdupq_n_u8(static_cast<std::uint8_t>(format::max_code(Bits)));
  if constexpr (Bits == 8) {
    return vld1q_u8(p);
  } else if constexpr (Bits == 4) {
    const uint8x8_t packed = vld1_u8(p);
    const uint8x8_t lo = vand_u8(packed, vdup_n_u8(15)), hi = vshr_n_u8(packed, 4);
    return vcombine_u8(vzip1_u8(lo, hi), vzip2_u8(lo, hi));
  } else if constexpr (Bits == 2 || Bits == 1) {  // replicate byte i*Bits/8 into lane i, shift, mask
    static constexpr std::array<std::uint8_t, 16> spread = [] {
      std::array<std::uint8_t, 16> idx{};
      for (int i = 0; i < 16; ++i) idx[i] = static_cast<std::uint8_t>(i * Bits / 8);
      return idx;
    }();
    static constexpr std::array<std::int8_t, 16> shifts = [] {
      std::array<std::int8_t, 16> s{};
      for (int i = 0; i < 16; ++i) s[i] = static_cast<std::int8_t>(-(i * Bits % 8));
      return s;
    }();
    const uint8x16_t bytes = vqtbl1q_u8(vld1q_u8(p), vld1q_u8(spread.data()));
    return vandq_u8(vshlq_u8(bytes, vld1q_s8(shifts.data())), mask);
  } else {
    static constexpr auto lo_idx = pair_windows<Bits, 0>();
    static constexpr auto hi_idx = pair_windows<Bits, 8>();
    static constexpr auto lo_shift = pair_shifts<Bits, 0>();
    static constexpr auto hi_shift = pair_shifts<Bits, 8>();
    const uint8x16_t bytes = vld1q_u8(p);
    const uint16x8_t lo = vshlq_u16(vreinterpretq_u16_u8(vqtbl1q_u8(bytes, vld1q_u8(lo_idx.data()))),
                                    vld1q_s16(lo_shift.data()));
    const uint16x8_t hi = vshlq_u16(vreinterpretq_u16_u8(vqtbl1q_u8(bytes, vld1q_u8(hi_idx.data()))),
                                    vld1q_s16(hi_shift.data()));
    return vandq_u8(vuzp1q_u8(vreinterpretq_u8_u16(lo), vreinterpretq_u8_u16(hi)), mask);
  }
}

// ---- conversions and roundings (finite inputs) ---------------------------------------------------
// float -> bfloat16 bits, round to nearest even (no NaN can reach here).
LOWBIT_ALWAYS_INLINE uint16x4_t bfloat16_bits(float32x4_t x) noexcept {
#if LOWBIT_NEON_BF16
  return vreinterpret_u16_bf16(vcvt_bf16_f32(x));
#else
  const uint32x4_t u = vreinterpretq_u32_f32(x);
  const uint32x4_t lsb = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
  return vshrn_n_u32(vaddq_u32(u, vaddq_u32(lsb, vdupq_n_u32(0x7fff))), 16);
#endif
}
LOWBIT_ALWAYS_INLINE float32x4_t widen_bfloat16(uint16x4_t b) noexcept {
  return vreinterpretq_f32_u32(vshll_n_u16(b, 16));
}
LOWBIT_ALWAYS_INLINE uint16x4_t half_bits(float32x4_t x) noexcept {
  return vreinterpret_u16_f16(vcvt_f16_f32(x));
}
LOWBIT_ALWAYS_INLINE float32x4_t widen_half(uint16x4_t h) noexcept {
  return vcvt_f32_f16(vreinterpret_f16_u16(h));
}
// 8 values of O (half or bfloat16) from two sets of 4 float lanes, narrowed into one register (fcvtn2,
// bfcvtn2 or shrn2).
template <class O>
LOWBIT_ALWAYS_INLINE uint16x8_t words8(float32x4_t lo, float32x4_t hi) noexcept {
  if constexpr (std::is_same<O, half>::value) {
    return vreinterpretq_u16_f16(vcvt_high_f16_f32(vcvt_f16_f32(lo), hi));
  } else {
#if LOWBIT_NEON_BF16
    return vreinterpretq_u16_bf16(vcvtq_high_bf16_f32(vcvtq_low_bf16_f32(lo), hi));
#else
    const uint32x4_t a = vreinterpretq_u32_f32(lo), b = vreinterpretq_u32_f32(hi);
    const uint32x4_t bias = vdupq_n_u32(0x7fff), one = vdupq_n_u32(1);
    const uint32x4_t ra = vaddq_u32(a, vaddq_u32(vandq_u32(vshrq_n_u32(a, 16), one), bias));
    const uint32x4_t rb = vaddq_u32(b, vaddq_u32(vandq_u32(vshrq_n_u32(b, 16), one), bias));
    return vshrn_high_n_u32(vshrn_n_u32(ra, 16), rb, 16);
#endif
  }
}

// ---- finiteness -------------------------------------------------------------------------------------

// Whether n values are all finite: their exponent is not all ones, i.e. shifted left past the sign, no
// value reaches the all-ones exponent. 16 values per step: two instructions per vector (shl, umax).
template <class S>
LOWBIT_ALWAYS_INLINE bool all_finite(const S* p, std::size_t n) noexcept {
  std::size_t i = 0;
  if constexpr (sizeof(S) == 4) {
    const auto* u = reinterpret_cast<const std::uint32_t*>(p);
    uint32x4_t top = vdupq_n_u32(0);
    for (; i + 16 <= n; i += 16) {
      const uint32x4x4_t x = vld1q_u32_x4(u + i);
      top = vmaxq_u32(vmaxq_u32(top, vshlq_n_u32(x.val[0], 1)), vshlq_n_u32(x.val[1], 1));
      top = vmaxq_u32(vmaxq_u32(top, vshlq_n_u32(x.val[2], 1)), vshlq_n_u32(x.val[3], 1));
    }
    if (vmaxvq_u32(top) >= 0xff000000u) return false;
  } else {
    const auto* u = reinterpret_cast<const std::uint16_t*>(p);
    uint16x8_t top = vdupq_n_u16(0);
    for (; i + 16 <= n; i += 16) {
      const uint16x8x2_t x = vld1q_u16_x2(u + i);
      top = vmaxq_u16(vmaxq_u16(top, vshlq_n_u16(x.val[0], 1)), vshlq_n_u16(x.val[1], 1));
    }
    if (vmaxvq_u16(top) >= (std::is_same<S, half>::value ? 0xf800u : 0xff00u)) return false;
  }
  for (; i < n; ++i) {
    if (!finite(p[i])) return false;
  }
  return true;
}

LOWBIT_ALWAYS_INLINE float32x4_t broadcast(const float& x) noexcept { return vld1q_dup_f32(&x); }  // ld1r
LOWBIT_ALWAYS_INLINE float32x4_t broadcast(half x) noexcept { return widen_half(vdup_n_u16(x.to_bits())); }
LOWBIT_ALWAYS_INLINE float32x4_t broadcast(bfloat16 x) noexcept { return widen_bfloat16(vdup_n_u16(x.to_bits())); }

// ---- stores that advance a pointer ------------------------------------------------------------------
// st2/st4 have no immediate-offset form, so a group's stores at out, out + 16, ... would each need an
// address register; bumping one pointer after each store lets the compiler use post-indexing instead.
// The empty asm hides the bumps' sum, which compilers otherwise fold back into base + offset addressing.
template <class T>
LOWBIT_ALWAYS_INLINE void advance(T*& p, std::size_t n) noexcept {
  p += n;
#if defined(__GNUC__) || defined(__clang__)
  __asm__("" : "+r"(p));
#endif
}

LOWBIT_ALWAYS_INLINE void store8(float* out, float32x4x2_t v) noexcept {
  vst1q_f32(out, v.val[0]);
  vst1q_f32(out + 4, v.val[1]);
}
template <class O>
LOWBIT_ALWAYS_INLINE void store8(O* out, uint16x8_t v) noexcept {
  vst1q_u16(reinterpret_cast<std::uint16_t*>(out), v);
}
}  // namespace neon
}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_NEON

#endif  // LOWBIT_DETAIL_ARM_NEON_OPS_HPP
