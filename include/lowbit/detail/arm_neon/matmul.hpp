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
  static constexpr int width = 4;
  static constexpr int partials = 4;
  static LOWBIT_ALWAYS_INLINE vec zero() noexcept { return vdupq_n_f32(0.0f); }
  static LOWBIT_ALWAYS_INLINE vec load(const float* p) noexcept { return vld1q_f32(p); }
  static LOWBIT_ALWAYS_INLINE vec set1(float a) noexcept { return vdupq_n_f32(a); }
  static LOWBIT_ALWAYS_INLINE vec add(vec a, vec b) noexcept { return vaddq_f32(a, b); }
  static LOWBIT_ALWAYS_INLINE vec fma(vec a, vec b, vec c) noexcept { return vfmaq_f32(c, a, b); }
  // Scales or biases as floats.
  template <class S>
  static LOWBIT_ALWAYS_INLINE void widen(const S* p, std::size_t n, float* to) noexcept {
    for (std::size_t i = 0; i < n; ++i) vst1q_lane_f32(to + i, broadcast(p[i]), 0);
  }
  static LOWBIT_ALWAYS_INLINE float sum(vec v) noexcept { return vaddvq_f32(v); }

  // The group's codes, 16 at a time as bytes (codes16 reads 16 bytes from each chunk), 4 per float vector.
  template <int Bits, int GroupSize, class F>
  static LOWBIT_ALWAYS_INLINE void codes(const std::uint8_t* p, F&& f) noexcept {
    for (int c = 0; c < GroupSize / 16; ++c) {
      const uint8x16_t q = codes16<Bits>(p + 2 * Bits * c);
      const uint16x8_t lo = vmovl_u8(vget_low_u8(q)), hi = vmovl_high_u8(q);
      f(4 * c, vcvtq_f32_u32(vmovl_u16(vget_low_u16(lo))));
      f(4 * c + 1, vcvtq_f32_u32(vmovl_high_u16(lo)));
      f(4 * c + 2, vcvtq_f32_u32(vmovl_u16(vget_low_u16(hi))));
      f(4 * c + 3, vcvtq_f32_u32(vmovl_high_u16(hi)));
    }
  }
};

}  // namespace neon
}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_NEON

#endif  // LOWBIT_DETAIL_ARM_NEON_MATMUL_HPP
