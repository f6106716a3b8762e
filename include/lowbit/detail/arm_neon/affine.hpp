// lowbit/detail/arm_neon/affine.hpp — the affine mode on NEON (aarch64), in three variants chosen by the
// compiler's macros:
//   baseline armv8-a    float32 arithmetic; fcvtn/fcvtl for half; integer rounding for bfloat16
//   + fp16 arithmetic   (__ARM_FEATURE_FP16_VECTOR_ARITHMETIC, Apple M1 and later) half scales are
//                       multiplied and added in half, 8 lanes per vector: exactly MLX's rounding for half
//   + bf16 conversions  (__ARM_FEATURE_BF16_VECTOR_ARITHMETIC) bfcvtn rounds float to bfloat16
//
// Per group, the 2^Bits outputs are computed once with the exact rule and split into byte planes; each
// element is then one tbl per output byte, and st2/st4 interleave the planes back into 16- or 32-bit
// values in memory order (so no per-element widening or conversion happens at all). For more bits than
// the tables pay for (float output: 6..8, 2-byte output: 7..8) the rule is applied per element.
//
// Why it is exact:
//   * s * q is one fmul and the add a separate fadd behind no_contract: no FMA can form;
//   * fcvtn, bfcvtn and fp16 fmul/fadd round to nearest even (FPCR default), like lowbit::half/bfloat16;
//     the fp16 product s * q is the half rounding of the exact product, which is what the float path
//     computes, and a sum of two halves rounded once equals the float sum rounded to half (numeric.hpp);
//   * groups whose scale or bias is not finite take the scalar reference (NaN payloads, inf * 0): the
#ifndef LOWBIT_DETAIL_ARM_NEON_AFFINE_HPP
#define LOWBIT_DETAIL_ARM_NEON_AFFINE_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_NEON

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../../format.hpp"
#include "../../types.hpp"
#include "../numeric.hpp"
#include "../scalar/affine.hpp"
#include "ops.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace neon {

// 8 output values: two float32x4 for float output, eight 16-bit values otherwise.
template <class O>
using values8 = typename std::conditional<std::is_same<O, float>::value, float32x4x2_t, uint16x8_t>::type;

// The value in S of 4 codes (as floats), then converted to O (float32x4 or 4 x 16 bits).
template <class S>
struct rule4 {
  float32x4_t scale, bias;
  LOWBIT_ALWAYS_INLINE rule4(const S& s, const S& b) noexcept : scale(broadcast(s)), bias(broadcast(b)) {}

  template <class O>
  LOWBIT_ALWAYS_INLINE auto value(float32x4_t q) const noexcept {
    if constexpr (std::is_same<S, float>::value) {
      const float32x4_t v = vaddq_f32(no_contract(vmulq_f32(scale, q)), bias);
      if constexpr (std::is_same<O, float>::value) return v;
      else if constexpr (std::is_same<O, half>::value) return half_bits(v);
      else return bfloat16_bits(v);
    } else if constexpr (std::is_same<S, half>::value) {  // s * q is exact in float; round it to half
      const uint16x4_t v = half_bits(vaddq_f32(widen_half(half_bits(vmulq_f32(scale, q))), bias));
      if constexpr (std::is_same<O, half>::value) return v;
      else if constexpr (std::is_same<O, float>::value) return widen_half(v);
      else return bfloat16_bits(widen_half(v));
    } else {
      const uint16x4_t v = bfloat16_bits(vaddq_f32(widen_bfloat16(bfloat16_bits(vmulq_f32(scale, q))), bias));
      if constexpr (std::is_same<O, bfloat16>::value) return v;
      else if constexpr (std::is_same<O, float>::value) return widen_bfloat16(v);
      else return half_bits(widen_bfloat16(v));
    }
  }
};

template <class S>
struct rule {
  rule4<S> r;
  LOWBIT_ALWAYS_INLINE rule(const S& s, const S& b) noexcept : r(s, b) {}
  // The values of 8 codes.
  template <class O>
  LOWBIT_ALWAYS_INLINE values8<O> value(uint16x8_t q) const noexcept {
    const float32x4_t lo = vcvtq_f32_u32(vmovl_u16(vget_low_u16(q)));
    const float32x4_t hi = vcvtq_f32_u32(vmovl_high_u16(q));
    if constexpr (std::is_same<O, float>::value) {
      return float32x4x2_t{{r.template value<float>(lo), r.template value<float>(hi)}};
    } else {
      return vcombine_u16(r.template value<O>(lo), r.template value<O>(hi));
    }
  }
};

#if LOWBIT_NEON_FP16
// Half scales with fp16 vector arithmetic: 8 lanes of fmul then fadd, in half.
template <>
struct rule<half> {
  float16x8_t scale, bias;
  LOWBIT_ALWAYS_INLINE rule(half s, half b) noexcept
      : scale(vreinterpretq_f16_u16(vdupq_n_u16(s.to_bits()))), bias(vreinterpretq_f16_u16(vdupq_n_u16(b.to_bits()))) {}
  template <class O>
  LOWBIT_ALWAYS_INLINE values8<O> value(uint16x8_t q) const noexcept {
    const float16x8_t v = vaddq_f16(no_contract(vmulq_f16(scale, vcvtq_f16_u16(q))), bias);
    if constexpr (std::is_same<O, half>::value) {
      return vreinterpretq_u16_f16(v);
    } else {
      const float32x4_t lo = vcvt_f32_f16(vget_low_f16(v)), hi = vcvt_high_f32_f16(v);
      if constexpr (std::is_same<O, float>::value) return float32x4x2_t{{lo, hi}};
      else return vcombine_u16(bfloat16_bits(lo), bfloat16_bits(hi));
    }
  }
};
#endif

// ---- per-group tables in byte planes --------------------------------------------------------------
// The codes j .. j+7 (mod 2^Bits) as 16-bit lanes.
template <int Bits>
LOWBIT_ALWAYS_INLINE uint16x8_t table_codes(int first) noexcept {
  static constexpr std::uint16_t lanes[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  return vandq_u16(vaddq_u16(vld1q_u16(lanes), vdupq_n_u16(static_cast<std::uint16_t>(first))),
                   vdupq_n_u16(static_cast<std::uint16_t>(format::max_code(Bits))));
}

// 2-byte output: planes lo[r] and hi[r] hold the low and high bytes of entries 16r .. 16r+15 (for 3 bits or
// fewer only the first 8 entries are computed: codes never index the others).
template <int Bits, class O, bool Float = std::is_same<O, float>::value>
struct table {
  static constexpr int registers = Bits <= 4 ? 1 : Bits == 5 ? 2 : 4;
  uint8x16_t lo[registers], hi[registers];

  template <class S>
  LOWBIT_ALWAYS_INLINE explicit table(const rule<S>& r) noexcept {
    if constexpr (Bits <= 3) {
      const uint8x16_t a = vreinterpretq_u8_u16(r.template value<O>(table_codes<Bits>(0)));
      lo[0] = vuzp1q_u8(a, a);
      hi[0] = vuzp2q_u8(a, a);
    } else {
      LOWBIT_UNROLL
      for (int k = 0; k < registers; ++k) {
        const uint8x16_t a = vreinterpretq_u8_u16(r.template value<O>(table_codes<Bits>(16 * k)));
        const uint8x16_t b = vreinterpretq_u8_u16(r.template value<O>(table_codes<Bits>(16 * k + 8)));
        lo[k] = vuzp1q_u8(a, b);
        hi[k] = vuzp2q_u8(a, b);
      }
    }
  }
  LOWBIT_ALWAYS_INLINE uint8x16_t lookup(const uint8x16_t* planes, uint8x16_t codes) const noexcept {
    if constexpr (registers == 1) return vqtbl1q_u8(planes[0], codes);
    else if constexpr (registers == 2) return vqtbl2q_u8((uint8x16x2_t{{planes[0], planes[1]}}), codes);
    else return vqtbl4q_u8((uint8x16x4_t{{planes[0], planes[1], planes[2], planes[3]}}), codes);
  }
  // 16 codes in order -> 16 values at out, which advances: st2 interleaves the low and high bytes.
  LOWBIT_ALWAYS_INLINE void store16(uint8x16_t codes, O*& out) const noexcept {
    vst2q_u8(reinterpret_cast<std::uint8_t*>(out), (uint8x16x2_t{{lookup(lo, codes), lookup(hi, codes)}}));
    advance(out, 16);
  }
  // 4 bits: 32 codes from 16 bytes. The low nibbles are the even elements and the high nibbles the odd
  // ones; st4 of (low, high byte of even; low, high byte of odd) writes them back in element order.
  LOWBIT_ALWAYS_INLINE void store32_nibbles(uint8x16_t packed, O*& out) const noexcept {
    const uint8x16_t even = vandq_u8(packed, vdupq_n_u8(15)), odd = vshrq_n_u8(packed, 4);
    vst4q_u8(reinterpret_cast<std::uint8_t*>(out),
             (uint8x16x4_t{{lookup(lo, even), lookup(hi, even), lookup(lo, odd), lookup(hi, odd)}}));
    advance(out, 32);
  }
};

// float output: planes p[b][r] hold byte b of entries 16r .. 16r+15. The 4 x 16 byte transpose is a store
// of the entries and one ld4, which deinterleaves them (two instructions instead of eight unzips).
template <int Bits, class O>
struct table<Bits, O, true> {
  static constexpr int registers = Bits <= 4 ? 1 : 2;
  uint8x16_t p[4][registers];

  template <class S>
  LOWBIT_ALWAYS_INLINE explicit table(const rule<S>& r) noexcept {
    alignas(16) float entries[16];
    LOWBIT_UNROLL
    for (int k = 0; k < registers; ++k) {
      const float32x4x2_t a = r.template value<float>(table_codes<Bits>(16 * k));
      vst1q_f32(entries, a.val[0]);
      vst1q_f32(entries + 4, a.val[1]);
      if constexpr (Bits > 3) {  // for 3 bits or fewer, codes only index the first 8 entries
        const float32x4x2_t b = r.template value<float>(table_codes<Bits>(16 * k + 8));
        vst1q_f32(entries + 8, b.val[0]);
        vst1q_f32(entries + 12, b.val[1]);
      }
      const uint8x16x4_t planes = vld4q_u8(reinterpret_cast<const std::uint8_t*>(entries));
      p[0][k] = planes.val[0];
      p[1][k] = planes.val[1];
      p[2][k] = planes.val[2];
      p[3][k] = planes.val[3];
    }
  }
  LOWBIT_ALWAYS_INLINE uint8x16_t lookup(const uint8x16_t* planes, uint8x16_t codes) const noexcept {
    if constexpr (registers == 1) return vqtbl1q_u8(planes[0], codes);
    else return vqtbl2q_u8((uint8x16x2_t{{planes[0], planes[1]}}), codes);
  }
  // 16 codes in order -> 16 floats at out, which advances: st4 interleaves the four byte planes.
  LOWBIT_ALWAYS_INLINE void store16(uint8x16_t codes, O*& out) const noexcept {
    vst4q_u8(reinterpret_cast<std::uint8_t*>(out),
             (uint8x16x4_t{{lookup(p[0], codes), lookup(p[1], codes), lookup(p[2], codes), lookup(p[3], codes)}}));
    advance(out, 16);
  }
  LOWBIT_ALWAYS_INLINE void store32_nibbles(uint8x16_t packed, O*& out) const noexcept {
    const uint8x16_t even = vandq_u8(packed, vdupq_n_u8(15)), odd = vshrq_n_u8(packed, 4);
    store16(vzip1q_u8(even, odd), out);
    store16(vzip2q_u8(even, odd), out);
  }
};

template <int Bits, class O>
constexpr bool uses_table() {
  return std::is_same<O, float>::value ? Bits <= 5 : Bits <= 6;
}

// One group whose scale and bias are finite, into out, which advances past the group. Reads up to 16 bytes
// from the start of each chunk of codes; all of them before the first store, which could alias them.
template <int Bits, int GroupSize, class S, class O>
LOWBIT_ALWAYS_INLINE void dequantize_group(const std::uint8_t* codes, const rule<S>& r, O*& out) noexcept {
  if constexpr (uses_table<Bits, O>() && Bits == 4) {
    uint8x16_t packed[GroupSize / 32];  // one ld1 of 1, 2 or 4 registers
    if constexpr (GroupSize == 32) {
      packed[0] = vld1q_u8(codes);
    } else if constexpr (GroupSize == 64) {
      const uint8x16x2_t x = vld1q_u8_x2(codes);
      packed[0] = x.val[0], packed[1] = x.val[1];
    } else {
      const uint8x16x4_t x = vld1q_u8_x4(codes);
      packed[0] = x.val[0], packed[1] = x.val[1], packed[2] = x.val[2], packed[3] = x.val[3];
    }
    const table<Bits, O> lut(r);
    LOWBIT_UNROLL
    for (int c = 0; c < GroupSize / 32; ++c) lut.store32_nibbles(packed[c], out);
  } else if constexpr (uses_table<Bits, O>()) {
    uint8x16_t q[GroupSize / 16];
    LOWBIT_UNROLL
    for (int c = 0; c < GroupSize / 16; ++c) q[c] = codes16<Bits>(codes + 2 * Bits * c);
    const table<Bits, O> lut(r);
    LOWBIT_UNROLL
    for (int c = 0; c < GroupSize / 16; ++c) lut.store16(q[c], out);
  } else {
    LOWBIT_UNROLL
    for (int c = 0; c < GroupSize / 16; ++c) {
      const uint8x16_t q = codes16<Bits>(codes + 2 * Bits * c);
      store8(out + 16 * c, r.template value<O>(vmovl_u8(vget_low_u8(q))));
      store8(out + 16 * c + 8, r.template value<O>(vmovl_high_u8(q)));
    }
    advance(out, GroupSize);
  }
}

// The affine part of the kernel set. One vector pass over the scales and biases tells whether they are all finite (the usual
// case); then the groups run in a loop with no test and no call, which keeps its constants in registers.
// Otherwise each group is tested, and a non-finite one takes the scalar reference.
struct affine_groups {
  template <int Bits, int GroupSize, bool Stream = false, class S, class O>
  static void dequantize(const std::uint32_t* wq, const S* scales, const S* biases, O* out, std::size_t groups) noexcept {
    constexpr std::size_t words = format::words_per_group(Bits, GroupSize);
    const auto* codes = reinterpret_cast<const std::uint8_t*>(wq);
    if (all_finite(scales, groups) && all_finite(biases, groups)) {
      const O* const end = out + groups * GroupSize;
      while (out != end) {  // pointers that advance: post-indexed loads and stores, no counter
        dequantize_group<Bits, GroupSize>(codes, rule<S>(*scales, *biases), out);
        advance(codes, words * 4);
        advance(scales, 1);
        advance(biases, 1);
      }
      return;
    }
    for (std::size_t g = 0; g < groups; ++g) {
      if (finite(scales[g]) && finite(biases[g])) {
        O* group_out = out + g * GroupSize;
        dequantize_group<Bits, GroupSize>(codes + g * words * 4, rule<S>(scales[g], biases[g]), group_out);
      } else {
        dequantize_special_group<Bits, GroupSize>(wq + g * words, scales + g, biases + g, out + g * GroupSize);
      }
    }
  }
};

}  // namespace neon
}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_NEON

#endif  // LOWBIT_DETAIL_ARM_NEON_AFFINE_HPP
