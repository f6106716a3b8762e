// lowbit/detail/x86_avx2/matmul.hpp — quantized matmul on AVX2: codes unpacked into float lanes as
// dequantize unpacks them, accumulated with FMAs where the target has them (detail/matmul.hpp, lane_matmul).
#ifndef LOWBIT_DETAIL_X86_AVX2_MATMUL_HPP
#define LOWBIT_DETAIL_X86_AVX2_MATMUL_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_AVX2

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "ops.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace avx2 {

struct matmul_lanes {
  using vec = __m256;
  static constexpr int width = 8;
  static constexpr int partials = 2;
  static LOWBIT_ALWAYS_INLINE vec zero() noexcept { return _mm256_setzero_ps(); }
  static LOWBIT_ALWAYS_INLINE vec load(const float* p) noexcept { return _mm256_loadu_ps(p); }
  static LOWBIT_ALWAYS_INLINE vec set1(float a) noexcept { return _mm256_set1_ps(a); }
  static LOWBIT_ALWAYS_INLINE vec add(vec a, vec b) noexcept { return _mm256_add_ps(a, b); }
  // n <= 64 scales or biases as floats.
  template <class S>
  static LOWBIT_ALWAYS_INLINE void widen(const S* p, std::size_t n, float* to) noexcept {
    for (std::size_t i = 0; i < n; i += 8) widen_batch(p + i, n - i < 8 ? n - i : 8, to + i);
  }
  static LOWBIT_ALWAYS_INLINE vec fma(vec a, vec b, vec c) noexcept {
#if defined(__FMA__)
    return _mm256_fmadd_ps(a, b, c);
#else
    return _mm256_add_ps(_mm256_mul_ps(a, b), c);
#endif
  }
  static LOWBIT_ALWAYS_INLINE float sum(vec v) noexcept {
    const __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
  }

  // The group's codes, 8 at a time in 32-bit lanes (codes_in_dwords may read 8 bytes past them).
  template <int Bits, int GroupSize, class F>
  static LOWBIT_ALWAYS_INLINE void codes(const std::uint8_t* p, F&& f) noexcept {
    for (int c = 0; c < GroupSize / 8; ++c) f(c, code_floats<Bits>(codes_in_dwords<Bits>(p + c * Bits)));
  }
};

}  // namespace avx2
}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_AVX2

#endif  // LOWBIT_DETAIL_X86_AVX2_MATMUL_HPP
