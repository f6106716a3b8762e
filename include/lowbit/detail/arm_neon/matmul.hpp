// lowbit/detail/arm_neon/matmul.hpp — quantized matmul on NEON: codes unpacked into bytes as dequantize
// unpacks them, widened to float lanes and accumulated with fmla (detail/matmul.hpp, lane_matmul).
#ifndef LOWBIT_DETAIL_ARM_NEON_MATMUL_HPP
#define LOWBIT_DETAIL_ARM_NEON_MATMUL_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_NEON

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

#include "../../format.hpp"
#include "../matmul.hpp"
#include "ops.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace neon {

struct matmul_lanes {
  using vec = float32x4_t;
  static constexpr int rows = 4;  // rows of W per pass (transposed)
  static constexpr int columns = 64;  // floats of y per tile (not transposed)
  using ivec = uint32x4_t;
  static constexpr int width = 4;
  static LOWBIT_ALWAYS_INLINE vec zero() noexcept { return vdupq_n_f32(0.0f); }
  static LOWBIT_ALWAYS_INLINE vec load(const float* p) noexcept { return vld1q_f32(p); }
  static LOWBIT_ALWAYS_INLINE void store(float* p, vec v) noexcept { vst1q_f32(p, v); }
  static LOWBIT_ALWAYS_INLINE vec set1(float a) noexcept { return vdupq_n_f32(a); }
  static LOWBIT_ALWAYS_INLINE vec mul(vec a, vec b) noexcept { return vmulq_f32(a, b); }
  static LOWBIT_ALWAYS_INLINE vec fma(vec a, vec b, vec c) noexcept { return vfmaq_f32(c, a, b); }
  // Scales or biases as floats.
  template <class S>
  static LOWBIT_ALWAYS_INLINE void widen(const S* p, std::size_t n, float* to) noexcept {
    for (std::size_t i = 0; i < n; ++i) vst1q_lane_f32(to + i, broadcast(p[i]), 0);
  }
  static LOWBIT_ALWAYS_INLINE float sum(vec v) noexcept { return vaddvq_f32(v); }

  // Codes to values: affine codes as floats; E2M1 and E4M3 by integer operations on the float's bits
  // (the exponent rebiased), or for their subnormals from the integer fraction times a power of two:
  // never a subnormal float operand, which the flush-to-zero mode -ffast-math sets would read as zero.
  template <int Bits>
  static LOWBIT_ALWAYS_INLINE vec affine_values(ivec q) noexcept {
    return vcvtq_f32_u32(q);  // codes16 masked them
  }
  static LOWBIT_ALWAYS_INLINE vec e2m1(ivec q) noexcept {
    const uint32x4_t c = vandq_u32(q, vdupq_n_u32(7));
    const vec normal = vreinterpretq_f32_u32(vaddq_u32(vshlq_n_u32(c, 22), vdupq_n_u32(126u << 23)));
    const vec magnitude = vbslq_f32(vcltq_u32(c, vdupq_n_u32(2)), vmulq_n_f32(vcvtq_f32_u32(c), 0.5f), normal);
    return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(magnitude), vshlq_n_u32(vandq_u32(q, vdupq_n_u32(8)), 28)));
  }
  static LOWBIT_ALWAYS_INLINE vec e4m3(ivec q) noexcept {
    const uint32x4_t t = vandq_u32(q, vdupq_n_u32(0x7f));
    const vec normal = vreinterpretq_f32_u32(vaddq_u32(vshlq_n_u32(t, 20), vdupq_n_u32(120u << 23)));
    const vec magnitude = vbslq_f32(vcltq_u32(t, vdupq_n_u32(8)), vmulq_n_f32(vcvtq_f32_u32(t), 0x1p-9f), normal);
    return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(magnitude), vshlq_n_u32(vandq_u32(q, vdupq_n_u32(0x80)), 24)));
  }

  // Codes of 1, 2 or 4 bits one byte per lane (8 or 16 bytes at a time), when the group's codes fill whole
  // 8-byte loads; the rest in order.
  template <int Bits, int GroupSize>
  static constexpr int stride() noexcept {
    return (Bits == 1 || Bits == 2 || Bits == 4) && GroupSize * Bits % 64 == 0 ? 8 / Bits : 1;
  }

  // The group's values. Codes of up to 4 bits (affine) and E2M1 codes in the byte-per-lane order: each
  // code's float is two table lookups (tbl) for the two high bytes of its bits, the low two being zero
  // for every such value, interleaved into 32-bit lanes by zips: no widening and no conversion. The rest
  // through codes() and code_values().
  template <class Weights, class F>
  static LOWBIT_ALWAYS_INLINE void values(const std::uint8_t* p, F&& f) noexcept {
    constexpr int bits = Weights::bits, s = stride<bits, Weights::group_size>();
    constexpr bool fp = is_fp_weights<Weights>::value;
    if constexpr (s > 1 && (!fp || bits == 4)) {
      // Bytes 2 and 3 of the floats 0 .. 15, and of the E2M1 values 0, 0.5, ..., 6, -0, ..., -6.
      alignas(16) static constexpr std::uint8_t ints[2][16] = {
          {0x00, 0x80, 0x00, 0x40, 0x80, 0xa0, 0xc0, 0xe0, 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70},
          {0x00, 0x3f, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41}};
      alignas(16) static constexpr std::uint8_t e2m1s[2][16] = {
          {0x00, 0x00, 0x80, 0xc0, 0x00, 0x40, 0x80, 0xc0, 0x00, 0x00, 0x80, 0xc0, 0x00, 0x40, 0x80, 0xc0},
          {0x00, 0x3f, 0x3f, 0x3f, 0x40, 0x40, 0x40, 0x40, 0x80, 0xbf, 0xbf, 0xbf, 0xc0, 0xc0, 0xc0, 0xc0}};
      const auto& table = fp ? e2m1s : ints;
      const uint8x16_t low = vld1q_u8(table[0]), high = vld1q_u8(table[1]);
      const uint16x8_t zero = vdupq_n_u16(0);
      const uint8x16_t mask = vdupq_n_u8(static_cast<std::uint8_t>(format::max_code(bits)));
      constexpr int bytes = Weights::group_size * bits / 8;
      if constexpr (bytes % 16 == 0) {
        LOWBIT_UNROLL_GCC
        for (int c = 0; c < bytes / 16; ++c) {
          const uint8x16_t packed = vld1q_u8(p + 16 * c);
          LOWBIT_UNROLL_GCC
          for (int j = 0; j < s; ++j) {
            uint8x16_t q = j == 0 ? packed : vshlq_u8(packed, vdupq_n_s8(static_cast<std::int8_t>(-j * bits)));
            if (j < s - 1) q = vandq_u8(q, mask);
            const uint16x8_t h0 = vreinterpretq_u16_u8(vzip1q_u8(vqtbl1q_u8(low, q), vqtbl1q_u8(high, q)));
            const uint16x8_t h1 = vreinterpretq_u16_u8(vzip2q_u8(vqtbl1q_u8(low, q), vqtbl1q_u8(high, q)));
            f((4 * c) * s + j, vreinterpretq_f32_u16(vzip1q_u16(zero, h0)));  // bytes 4 * block .. + 3
            f((4 * c + 1) * s + j, vreinterpretq_f32_u16(vzip2q_u16(zero, h0)));
            f((4 * c + 2) * s + j, vreinterpretq_f32_u16(vzip1q_u16(zero, h1)));
            f((4 * c + 3) * s + j, vreinterpretq_f32_u16(vzip2q_u16(zero, h1)));
          }
        }
      } else {  // 8 bytes
        const uint8x8_t packed = vld1_u8(p);
        LOWBIT_UNROLL_GCC
        for (int j = 0; j < s; ++j) {
          uint8x8_t q = j == 0 ? packed : vshl_u8(packed, vdup_n_s8(static_cast<std::int8_t>(-j * bits)));
          if (j < s - 1) q = vand_u8(q, vget_low_u8(mask));
          const uint16x8_t h = vreinterpretq_u16_u8(vcombine_u8(vzip1_u8(vqtbl1_u8(low, q), vqtbl1_u8(high, q)),
                                                                vzip2_u8(vqtbl1_u8(low, q), vqtbl1_u8(high, q))));
          f(j, vreinterpretq_f32_u16(vzip1q_u16(zero, h)));
          f(s + j, vreinterpretq_f32_u16(vzip2q_u16(zero, h)));
        }
      }
    } else {
      values_from_codes<matmul_lanes, Weights>(p, f);
    }
  }

  // The group's codes, 16 at a time as bytes (codes16 reads 16 bytes from each chunk), 4 per vector.
  template <int Bits, int GroupSize, class F>
  static LOWBIT_ALWAYS_INLINE void codes(const std::uint8_t* p, F&& f) noexcept {
    LOWBIT_UNROLL_GCC
    for (int c = 0; c < GroupSize / 16; ++c) {
      const uint8x16_t q = codes16<Bits>(p + 2 * Bits * c);
      const uint16x8_t lo = vmovl_u8(vget_low_u8(q)), hi = vmovl_high_u8(q);
      f(4 * c, vmovl_u16(vget_low_u16(lo)));
      f(4 * c + 1, vmovl_high_u16(lo));
      f(4 * c + 2, vmovl_u16(vget_low_u16(hi)));
      f(4 * c + 3, vmovl_high_u16(hi));
    }
  }
};

}  // namespace neon
}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_NEON

#endif  // LOWBIT_DETAIL_ARM_NEON_MATMUL_HPP
