// lowbit/detail/arm_neon/fp.hpp — the floating-point modes (mxfp4, nvfp4, mxfp8) on NEON (aarch64), in the
// variants of affine.hpp: baseline armv8-a; + fp16 vector arithmetic (half output is multiplied in half, MLX's own
// rounding); + bf16 conversions (bfcvtn).
//
// fp4 (mxfp4, nvfp4): per group, the 16 outputs convert_O(sf * e2m1[code]) are computed once (8 products;
// entries 8..15 are their negations) and split into byte planes (2 for half and bfloat16, 4 for float);
// each element is then one tbl per output byte, indexed by its 4-bit code, and st4 interleaves the planes
// back into 16- or 32-bit values in memory order. For 2-byte output the even elements (low nibbles) and
// odd elements (high nibbles) are looked up separately and st4 writes them back interleaved, so the
// nibbles are never reordered.
//
// mxfp8: E4M3 is decoded per element through binary16 (the low seven bits shifted left by 7, times 256;
// exact), then multiplied by sf (the 256 folded into it) and converted like the scalar reference.
//
// Exactness: the scale factor sf comes from the same scalar function as in the reference; each product is
// one fmul (nothing to fuse); fcvtn, bfcvtn and fp16 fmul round to nearest even (FPCR default), like
// lowbit::half / lowbit::bfloat16; the fp16 product of two halves is the half rounding of their exact
// product, which is what the reference computes; negating a finite product is exact (IEEE rounding is
// symmetric); where a product is provably a bfloat16 value, truncation is its rounding. Groups whose sf
// is not finite (E8M0 code 255, codes above 142 for half output, a non-finite global scale) take the
// scalar reference, so the vector code never meets a NaN.
#ifndef LOWBIT_DETAIL_ARM_NEON_FP_HPP
#define LOWBIT_DETAIL_ARM_NEON_FP_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_NEON

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../../mode.hpp"
#include "../../types.hpp"
#include "../fp_numeric.hpp"
#include "../scalar/fp.hpp"
#include "ops.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace neon {

// E2M1 values j .. j+3.
LOWBIT_ALWAYS_INLINE float32x4_t e2m1_quarter(int j) noexcept { return vld1q_f32(fp::e2m1_values + j); }

// ---- fp4 tables --------------------------------------------------------------------------------------
// Entries 8..15 are the negations of entries 0..7 (E2M1 is sign-magnitude and sf is finite here, so
// sf * -v = -(sf * v) exactly): 8 products are computed and the other 8 get their sign bit flipped.

// 2-byte output: the low and high bytes of the 16 entries.
struct planes2 {
  uint8x16_t lo, hi;
};
// Without a global scale and with fp16 arithmetic, half output is multiplied in half (sf is then a half
// value, converted exactly); with a global scale the product is rounded to float first, as the reference.
template <class O, bool Global>
LOWBIT_ALWAYS_INLINE planes2 fp4_planes2(float sf) noexcept {
  uint16x8_t a;  // entries 0..7
#if LOWBIT_NEON_FP16
  if constexpr (std::is_same<O, half>::value && !Global) {
    static const std::uint16_t lut_bits[8] = {0x0000, 0x3800, 0x3c00, 0x3e00, 0x4000, 0x4200, 0x4400, 0x4600};
    const float16x8_t s = vcombine_f16(vcvt_f16_f32(vdupq_n_f32(sf)), vcvt_f16_f32(vdupq_n_f32(sf)));
    a = vreinterpretq_u16_f16(vmulq_f16(s, vreinterpretq_f16_u16(vld1q_u16(lut_bits))));
  } else
#endif
  {
    const float32x4_t s = vdupq_n_f32(sf);
    a = words8<O>(vmulq_f32(s, e2m1_quarter(0)), vmulq_f32(s, e2m1_quarter(4)));
  }
  const uint8x16_t lo = vreinterpretq_u8_u16(a), hi = vreinterpretq_u8_u16(veorq_u16(a, vdupq_n_u16(0x8000)));
  return {vuzp1q_u8(lo, hi), vuzp2q_u8(lo, hi)};
}

// float output: byte k of the 16 entries, k = 0..3.
struct planes4 {
  uint8x16_t p[4];
};
LOWBIT_ALWAYS_INLINE planes4 fp4_planes4(float sf) noexcept {
  const float32x4_t s = vdupq_n_f32(sf);
  const uint8x16_t e0 = vreinterpretq_u8_f32(vmulq_f32(s, e2m1_quarter(0)));
  const uint8x16_t e1 = vreinterpretq_u8_f32(vmulq_f32(s, e2m1_quarter(4)));
  // Unzipping twice separates the bytes of the 8 floats; unzipping a vector with itself repeats them for
  // entries 8..15, whose sign byte (byte 3) then gets bit 7 flipped.
  const uint8x16_t even = vuzp1q_u8(e0, e1), odd = vuzp2q_u8(e0, e1);
  static const std::uint8_t flip[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
  return {{vuzp1q_u8(even, even), vuzp1q_u8(odd, odd), vuzp2q_u8(even, even),
           veorq_u8(vuzp2q_u8(odd, odd), vld1q_u8(flip))}};
}

// 16 codes in element order -> 16 floats.
LOWBIT_ALWAYS_INLINE void store16(const planes4& t, uint8x16_t codes, float* out) noexcept {
  vst4q_u8(reinterpret_cast<std::uint8_t*>(out),
           (uint8x16x4_t{{vqtbl1q_u8(t.p[0], codes), vqtbl1q_u8(t.p[1], codes), vqtbl1q_u8(t.p[2], codes),
                          vqtbl1q_u8(t.p[3], codes)}}));
}

template <mode M, class O, bool Global>
LOWBIT_ALWAYS_INLINE void fp4_group(const std::uint8_t* codes, float sf, O* out) noexcept {
  if constexpr (M == mode::mxfp4) {  // 16 bytes, 32 elements
    const uint8x16_t packed = vld1q_u8(codes);
    const uint8x16_t even = vandq_u8(packed, vdupq_n_u8(15)), odd = vshrq_n_u8(packed, 4);
    if constexpr (std::is_same<O, float>::value) {
      const planes4 t = fp4_planes4(sf);
      store16(t, vzip1q_u8(even, odd), out);
      store16(t, vzip2q_u8(even, odd), out + 16);
    } else {
      const planes2 t = fp4_planes2<O, Global>(sf);
      vst4q_u8(reinterpret_cast<std::uint8_t*>(out),
               (uint8x16x4_t{{vqtbl1q_u8(t.lo, even), vqtbl1q_u8(t.hi, even), vqtbl1q_u8(t.lo, odd),
                              vqtbl1q_u8(t.hi, odd)}}));
    }
  } else {  // nvfp4: 8 bytes, 16 elements
    const uint8x8_t packed = vld1_u8(codes);
    const uint8x8_t even = vand_u8(packed, vdup_n_u8(15)), odd = vshr_n_u8(packed, 4);
    if constexpr (std::is_same<O, float>::value) {
      store16(fp4_planes4(sf), vcombine_u8(vzip1_u8(even, odd), vzip2_u8(even, odd)), out);
    } else {
      const planes2 t = fp4_planes2<O, Global>(sf);
      vst4_u8(reinterpret_cast<std::uint8_t*>(out),
              (uint8x8x4_t{{vqtbl1_u8(t.lo, even), vqtbl1_u8(t.hi, even), vqtbl1_u8(t.lo, odd), vqtbl1_u8(t.hi, odd)}}));
    }
  }
}

// ---- mxfp8 ---------------------------------------------------------------------------------------------
// 8 E4M3 bytes -> binary16 bits: sign-extended to 16 bits and shifted left by 7, a byte 1xxxxxxx becomes
// 11xxxxxxx0000000; clearing bit 14 leaves the sign in bit 15 and the low seven bits in bits 7..13.
LOWBIT_ALWAYS_INLINE uint16x8_t e4m3_as_half_bits(int16x8_t shifted) noexcept {
  return vandq_u16(vreinterpretq_u16_s16(shifted), vdupq_n_u16(0xbf80));
}

// 8 elements (as half bits) times sf, stored as O. s256 = sf * 256 (finite): the element is the half value
// times 256, and (sf * 256) * h is the same exact product as sf * (256 * h), rounded once. Exact: the
// products are bfloat16 values, so the high halves of the floats are the rounded results (see below).
template <class O, bool Exact>
LOWBIT_ALWAYS_INLINE void mxfp8_store8(uint16x8_t h, float sf, float s256, O* out) noexcept {
#if LOWBIT_NEON_FP16
  if constexpr (std::is_same<O, half>::value) {  // sf is a half value here: multiply in half
    const float16x8_t v = vmulq_f16(vreinterpretq_f16_u16(h), vreinterpretq_f16_u16(vdupq_n_u16(0x5c00)));  // exact
    const float16x8_t s = vcombine_f16(vcvt_f16_f32(vdupq_n_f32(sf)), vcvt_f16_f32(vdupq_n_f32(sf)));
    vst1q_u16(reinterpret_cast<std::uint16_t*>(out), vreinterpretq_u16_f16(vmulq_f16(s, v)));
    return;
  }
#endif
  (void)sf;
  const float32x4_t s = vdupq_n_f32(s256);
  const float16x8_t hf = vreinterpretq_f16_u16(h);
  const float32x4_t lo = vmulq_f32(s, vcvt_f32_f16(vget_low_f16(hf)));
  const float32x4_t hi = vmulq_f32(s, vcvt_high_f32_f16(hf));
  if constexpr (std::is_same<O, float>::value) {
    vst1q_f32(out, lo);
    vst1q_f32(out + 4, hi);
  } else if constexpr (Exact) {
    vst1q_u16(reinterpret_cast<std::uint16_t*>(out), vuzp2q_u16(vreinterpretq_u16_f32(lo), vreinterpretq_u16_f32(hi)));
  } else {
    vst1q_u16(reinterpret_cast<std::uint16_t*>(out), words8<O>(lo, hi));
  }
}

template <class O, bool Exact>
LOWBIT_ALWAYS_INLINE void mxfp8_group(const std::uint8_t* codes, float sf, float s256, O* out) noexcept {
  for (int c = 0; c < 2; ++c) {
    const int8x16_t b = vld1q_s8(reinterpret_cast<const std::int8_t*>(codes) + 16 * c);
    mxfp8_store8<O, Exact>(e4m3_as_half_bits(vshll_n_s8(vget_low_s8(b), 7)), sf, s256, out + 16 * c);
    mxfp8_store8<O, Exact>(e4m3_as_half_bits(vshll_high_n_s8(b, 7)), sf, s256, out + 16 * c + 8);
  }
}

// bfloat16 output without bfcvtn: 2^(c-127) times an E4M3 value (at most 4 significant bits, lowest bit
// >= 2^-9) is a bfloat16 value when its lowest bit, >= 2^(c-136), is on bfloat16's grid (>= 2^-133), i.e.
// for codes 3 and up (and below 247, so no overflow): then rounding is truncation.
template <class O>
constexpr bool mxfp8_truncates() noexcept {
  return std::is_same<O, bfloat16>::value && !LOWBIT_NEON_BF16;
}

// The fp part of the kernel set. Which groups the vector code takes: those whose sf is finite (and, for mxfp8, sf * 256 too), decided
// from the scale code where that is cheaper than testing sf: E4M3 scales are always finite; E8M0 is
// +Inf at 255, and in half above code 142. With a global scale, one test per call when 480 * (g / 2688)
// is finite (then every sf is), else one per group.
struct fp_groups {
  template <mode M, bool Global = false, class O>
  static void dequantize_fp(const std::uint32_t* wq, const std::uint8_t* scales, O* out, std::size_t groups,
                            float decode) noexcept {
    const auto* codes = reinterpret_cast<const std::uint8_t*>(wq);
    constexpr int group_size = mode_group_size(M);
    constexpr std::size_t bytes = static_cast<std::size_t>(group_size * mode_bits(M) / 8);
    const bool every_finite = !Global || finite(480.0f * decode);
    for (std::size_t g = 0; g < groups; ++g, codes += bytes, out += group_size) {
      const std::uint8_t c = scales[g];
      const float sf = fp::group_factor<M, O, Global>(c, decode);
      bool vector;
      if constexpr (Global) {
        vector = every_finite || finite(sf);
      } else if constexpr (M == mode::nvfp4) {
        vector = true;
      } else if constexpr (M == mode::mxfp8) {
        vector = std::is_same<O, half>::value ? c < 143 : c < 247;  // sf * 256 < 2^128
      } else {
        vector = std::is_same<O, half>::value ? c < 143 : c != 255;
      }
      if (!vector) {  // NaN can arise here (Inf * 0): the reference spells out its bits
        scalar_fp_group<M>(reinterpret_cast<const std::uint32_t*>(codes), sf, out);
      } else if constexpr (M == mode::mxfp8) {
        if (mxfp8_truncates<O>() && c >= 3) {
          mxfp8_group<O, mxfp8_truncates<O>()>(codes, sf, sf * 256.0f, out);
        } else {
          mxfp8_group<O, false>(codes, sf, sf * 256.0f, out);
        }
      } else {
        fp4_group<M, O, Global>(codes, sf, out);
      }
    }
  }
};

}  // namespace neon
}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_NEON

#endif  // LOWBIT_DETAIL_ARM_NEON_FP_HPP
