// lowbit/detail/fp_neon.hpp — NEON kernels (aarch64) for the floating-point modes, in the variants of
// neon.hpp: baseline armv8-a; + fp16 vector arithmetic (half output is multiplied in half, MLX's own
// rounding); + bf16 conversions (bfcvtn).
//
// fp4 (mxfp4, nvfp4): per group, the 16 outputs convert_O(sf * e2m1[code]) are computed once and split
// into byte planes (2 for half and bfloat16, 4 for float); each element is then one tbl per output byte,
// indexed by its 4-bit code, and st2/st4 interleave the planes back into 16- or 32-bit values in memory
// order. For 2-byte output the even elements (low nibbles) and odd elements (high nibbles) are looked up
// separately and st4 writes them back interleaved, so the nibbles are never reordered.
//
// mxfp8: E4M3 is decoded per element through binary16 (the low seven bits shifted left by 7, times 256;
// exact), then multiplied by sf and converted like the scalar reference.
//
// Exactness: the scale factor sf comes from the same scalar function as in the reference; each product is
// one fmul (nothing to fuse); fcvtn, bfcvtn and fp16 fmul round to nearest even (FPCR default), like
// lowbit::half / lowbit::bfloat16; the fp16 product of two halves is the half rounding of their exact
// product, which is what the reference computes. Groups whose sf is not finite (E8M0 code 255, codes above
// 142 for half output, a non-finite global scale) take the scalar reference, so the vector code never
// meets a NaN.
#pragma once

#include "../config.hpp"

#if LOWBIT_HAVE_NEON

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../mode.hpp"
#include "../types.hpp"
#include "fp_numeric.hpp"
#include "fp_scalar.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace fp_neon {

// ---- float lanes -> O (finite inputs) ----------------------------------------------------------------
LOWBIT_ALWAYS_INLINE uint16x4_t bfloat16_bits(float32x4_t x) noexcept {
#if LOWBIT_NEON_BF16
  return vreinterpret_u16_bf16(vcvt_bf16_f32(x));
#else
  const uint32x4_t u = vreinterpretq_u32_f32(x);
  const uint32x4_t lsb = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
  return vshrn_n_u32(vaddq_u32(u, vaddq_u32(lsb, vdupq_n_u32(0x7fff))), 16);
#endif
}
LOWBIT_ALWAYS_INLINE uint16x4_t half_bits(float32x4_t x) noexcept { return vreinterpret_u16_f16(vcvt_f16_f32(x)); }

template <class O>
LOWBIT_ALWAYS_INLINE uint16x4_t words4(float32x4_t x) noexcept {
  if constexpr (std::is_same<O, half>::value) {
    return half_bits(x);
  } else {
    return bfloat16_bits(x);
  }
}

// E2M1 values j .. j+3.
LOWBIT_ALWAYS_INLINE float32x4_t e2m1_quarter(int j) noexcept { return vld1q_f32(fp::e2m1_values + j); }

// ---- fp4 tables --------------------------------------------------------------------------------------
// 2-byte output: the low and high bytes of the 16 entries.
struct planes2 {
  uint8x16_t lo, hi;
};
// Without a global scale and with fp16 arithmetic, half output is multiplied in half (sf is then a half
// value); with a global scale the product is rounded to float first, as the reference does.
template <class O, bool Global>
LOWBIT_ALWAYS_INLINE planes2 fp4_planes2(float sf) noexcept {
  uint16x8_t a, b;  // entries 0..7, 8..15
#if LOWBIT_NEON_FP16
  if constexpr (std::is_same<O, half>::value && !Global) {
    static const std::uint16_t lut_bits[16] = {0x0000, 0x3800, 0x3c00, 0x3e00, 0x4000, 0x4200, 0x4400, 0x4600,
                                               0x8000, 0xb800, 0xbc00, 0xbe00, 0xc000, 0xc200, 0xc400, 0xc600};
    const float16x8_t s = vreinterpretq_f16_u16(vdupq_n_u16(half(sf).to_bits()));
    a = vreinterpretq_u16_f16(vmulq_f16(s, vreinterpretq_f16_u16(vld1q_u16(lut_bits))));
    b = vreinterpretq_u16_f16(vmulq_f16(s, vreinterpretq_f16_u16(vld1q_u16(lut_bits + 8))));
  } else
#endif
  {
    const float32x4_t s = vdupq_n_f32(sf);
    a = vcombine_u16(words4<O>(vmulq_f32(s, e2m1_quarter(0))), words4<O>(vmulq_f32(s, e2m1_quarter(4))));
    b = vcombine_u16(words4<O>(vmulq_f32(s, e2m1_quarter(8))), words4<O>(vmulq_f32(s, e2m1_quarter(12))));
  }
  return {vuzp1q_u8(vreinterpretq_u8_u16(a), vreinterpretq_u8_u16(b)),
          vuzp2q_u8(vreinterpretq_u8_u16(a), vreinterpretq_u8_u16(b))};
}

// float output: byte k of the 16 entries, k = 0..3.
struct planes4 {
  uint8x16_t p[4];
};
LOWBIT_ALWAYS_INLINE planes4 fp4_planes4(float sf) noexcept {
  const float32x4_t s = vdupq_n_f32(sf);
  const uint8x16_t e0 = vreinterpretq_u8_f32(vmulq_f32(s, e2m1_quarter(0)));
  const uint8x16_t e1 = vreinterpretq_u8_f32(vmulq_f32(s, e2m1_quarter(4)));
  const uint8x16_t e2 = vreinterpretq_u8_f32(vmulq_f32(s, e2m1_quarter(8)));
  const uint8x16_t e3 = vreinterpretq_u8_f32(vmulq_f32(s, e2m1_quarter(12)));
  // A 4 x 4 byte transpose: two rounds of unzip separate the bytes of each float.
  const uint8x16_t even01 = vuzp1q_u8(e0, e1), odd01 = vuzp2q_u8(e0, e1);
  const uint8x16_t even23 = vuzp1q_u8(e2, e3), odd23 = vuzp2q_u8(e2, e3);
  return {{vuzp1q_u8(even01, even23), vuzp1q_u8(odd01, odd23), vuzp2q_u8(even01, even23), vuzp2q_u8(odd01, odd23)}};
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
// 8 E4M3 bytes (widened to 16 bits and shifted left by 8) -> binary16 bits: an arithmetic shift right by one
// copies the sign into bit 14, which is then cleared.
LOWBIT_ALWAYS_INLINE uint16x8_t e4m3_as_half_bits(uint16x8_t shifted) noexcept {
  return vandq_u16(vreinterpretq_u16_s16(vshrq_n_s16(vreinterpretq_s16_u16(shifted), 1)), vdupq_n_u16(0xbf80));
}

// 8 elements (as half bits) times sf, stored as O.
template <class O>
LOWBIT_ALWAYS_INLINE void mxfp8_store8(uint16x8_t h, float sf, O* out) noexcept {
#if LOWBIT_NEON_FP16
  if constexpr (std::is_same<O, half>::value) {  // sf is a half value here: multiply in half
    const float16x8_t v = vmulq_f16(vreinterpretq_f16_u16(h), vreinterpretq_f16_u16(vdupq_n_u16(0x5c00)));  // exact
    const float16x8_t s = vreinterpretq_f16_u16(vdupq_n_u16(half(sf).to_bits()));
    vst1q_u16(reinterpret_cast<std::uint16_t*>(out), vreinterpretq_u16_f16(vmulq_f16(s, v)));
    return;
  }
#endif
  const float32x4_t k256 = vdupq_n_f32(256.0f), s = vdupq_n_f32(sf);
  const float32x4_t lo = vmulq_f32(s, vmulq_f32(vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(h))), k256));
  const float32x4_t hi = vmulq_f32(s, vmulq_f32(vcvt_f32_f16(vreinterpret_f16_u16(vget_high_u16(h))), k256));
  if constexpr (std::is_same<O, float>::value) {
    vst1q_f32(out, lo);
    vst1q_f32(out + 4, hi);
  } else {
    vst1q_u16(reinterpret_cast<std::uint16_t*>(out), vcombine_u16(words4<O>(lo), words4<O>(hi)));
  }
}

template <class O>
LOWBIT_ALWAYS_INLINE void mxfp8_group(const std::uint8_t* codes, float sf, O* out) noexcept {
  for (int c = 0; c < 2; ++c) {
    const uint8x16_t b = vld1q_u8(codes + 16 * c);
    mxfp8_store8(e4m3_as_half_bits(vshll_n_u8(vget_low_u8(b), 8)), sf, out + 16 * c);
    mxfp8_store8(e4m3_as_half_bits(vshll_high_n_u8(b, 8)), sf, out + 16 * c + 8);
  }
}

template <mode M, class O, bool Global>
void dequantize_groups(const std::uint8_t* codes, const std::uint8_t* scales, O* out, std::size_t groups,
                       float decode) noexcept {
  constexpr int group_size = mode_group_size(M);
  constexpr std::size_t bytes = static_cast<std::size_t>(group_size * mode_bits(M) / 8);
  for (std::size_t g = 0; g < groups; ++g, codes += bytes, out += group_size) {
    const float sf = fp::group_factor<M, O, Global>(scales[g], decode);
    if (!fp::finite(sf)) {  // NaN can arise here (Inf * 0): the reference spells out its bits
      scalar_fp_group<M>(reinterpret_cast<const std::uint32_t*>(codes), sf, out);
    } else if constexpr (M == mode::mxfp8) {
      mxfp8_group(codes, sf, out);
    } else {
      fp4_group<M, O, Global>(codes, sf, out);
    }
  }
}

}  // namespace fp_neon

struct neon_fp_kernels {
#if LOWBIT_NEON_FP16 && LOWBIT_NEON_BF16
  static constexpr const char* name = "neon-fp16-bf16";
#elif LOWBIT_NEON_FP16
  static constexpr const char* name = "neon-fp16";
#elif LOWBIT_NEON_BF16
  static constexpr const char* name = "neon-bf16";
#else
  static constexpr const char* name = "neon";
#endif

  template <mode M, class O>
  static void dequantize(const std::uint32_t* wq, const std::uint8_t* scales, O* out, std::size_t groups,
                         const float* global_scale) noexcept {
    const auto* codes = reinterpret_cast<const std::uint8_t*>(wq);
    if constexpr (M == mode::nvfp4) {
      if (global_scale != nullptr) {
        fp_neon::dequantize_groups<M, O, true>(codes, scales, out, groups, fp::global_decode(*global_scale));
        return;
      }
    }
    (void)global_scale;  // nvfp4 only
    fp_neon::dequantize_groups<M, O, false>(codes, scales, out, groups, 0.0f);
  }
};

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_NEON
