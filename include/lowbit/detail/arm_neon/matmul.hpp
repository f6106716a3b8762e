// lowbit/detail/arm_neon/matmul.hpp — quantized matmul on NEON: codes unpacked into bytes as dequantize
// unpacks them, widened to float lanes and accumulated with fmla (detail/matmul.hpp, lane_matmul).
#ifndef LOWBIT_DETAIL_ARM_NEON_MATMUL_HPP
#define LOWBIT_DETAIL_ARM_NEON_MATMUL_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_NEON

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

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

  // Codes in order.
  template <int Bits, int GroupSize>
  static constexpr int stride() noexcept {
    return 1;
  }

  // The group's codes, 16 at a time as bytes (codes16 reads 16 bytes from each chunk), 4 per vector.
  template <int Bits, int GroupSize, class F>
  static LOWBIT_ALWAYS_INLINE void codes(const std::uint8_t* p, F&& f) noexcept {
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
