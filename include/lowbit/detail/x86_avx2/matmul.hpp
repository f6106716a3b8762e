// lowbit/detail/x86_avx2/matmul.hpp — quantized matmul on AVX2: codes unpacked into float lanes as
// dequantize unpacks them, accumulated with FMAs where the target has them (detail/matmul.hpp, lane_matmul).
#ifndef LOWBIT_DETAIL_X86_AVX2_MATMUL_HPP
#define LOWBIT_DETAIL_X86_AVX2_MATMUL_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_AVX2

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "../../format.hpp"
#include "../matmul.hpp"
#include "ops.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace avx2 {

struct matmul_lanes {
  using vec = __m256;
  static constexpr int rows = 4;  // rows of W per pass (transposed)
  static constexpr int columns = 64;  // floats of y per tile (not transposed)
  using ivec = __m256i;
  static constexpr int width = 8;
  static LOWBIT_ALWAYS_INLINE vec zero() noexcept { return _mm256_setzero_ps(); }
  static LOWBIT_ALWAYS_INLINE vec load(const float* p) noexcept { return _mm256_loadu_ps(p); }
  static LOWBIT_ALWAYS_INLINE void store(float* p, vec v) noexcept { _mm256_storeu_ps(p, v); }
  static LOWBIT_ALWAYS_INLINE vec set1(float a) noexcept { return _mm256_set1_ps(a); }
  static LOWBIT_ALWAYS_INLINE vec mul(vec a, vec b) noexcept { return _mm256_mul_ps(a, b); }
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

  // Codes to values, from lanes whose bits above the code may hold other codes: affine codes masked and
  // converted; E2M1 magnitudes from an 8-entry table (vpermps reads the low three bits) and the sign bit
  // moved to bit 31; E4M3 by integer operations on the float's bits (its exponent rebiased by 120), or for
  // subnormals m * 2^-9 from the integer m: never a subnormal float operand, which costs a microcode
  // assist on x86 and reads as zero under the flush-to-zero mode -ffast-math sets.
  template <int Bits>
  static LOWBIT_ALWAYS_INLINE vec affine_values(ivec q) noexcept {
    return code_floats<Bits>(q);
  }
  static LOWBIT_ALWAYS_INLINE vec e2m1(ivec q) noexcept {
    const __m256 magnitude = _mm256_permutevar8x32_ps(_mm256_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f), q);
    return _mm256_or_ps(magnitude, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(q, _mm256_set1_epi32(8)), 28)));
  }
  static LOWBIT_ALWAYS_INLINE vec e4m3(ivec q) noexcept {
    const __m256i t = _mm256_and_si256(q, _mm256_set1_epi32(0x7f));
    const __m256 normal = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_slli_epi32(t, 20), _mm256_set1_epi32(120 << 23)));
    const __m256 subnormal = _mm256_mul_ps(_mm256_cvtepi32_ps(t), _mm256_set1_ps(0x1p-9f));
    const __m256 magnitude =
        _mm256_blendv_ps(normal, subnormal, _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(8), t)));
    return _mm256_or_ps(magnitude, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(q, _mm256_set1_epi32(0x80)), 24)));
  }

  // Codes of 1, 2, 4 or 8 bits come one byte per lane (8 bytes per vpmovzxbd), when a block of 8 bytes'
  // codes stays within a group.
  template <int Bits, int GroupSize>
  static constexpr int stride() noexcept {
    return 8 % Bits == 0 && 8 * (8 / Bits) <= GroupSize ? 8 / Bits : 1;
  }

  template <class Weights, class F>
  static LOWBIT_ALWAYS_INLINE void values(const std::uint8_t* p, F&& f) noexcept {
    values_from_codes<matmul_lanes, Weights>(p, f);
  }

  // The group's codes, 8 at a time in 32-bit lanes, each code in the low bits of its lane and other codes'
  // bits possibly above it (codes_in_dwords may read 8 bytes past them).
  template <int Bits, int GroupSize, class F>
  static LOWBIT_ALWAYS_INLINE void codes(const std::uint8_t* p, F&& f) noexcept {
    constexpr int s = stride<Bits, GroupSize>();
    if constexpr (s > 1) {
      LOWBIT_UNROLL_GCC
      for (int block = 0; block < GroupSize / (8 * s); ++block) {
        const __m256i bytes = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * block)));
        LOWBIT_UNROLL_GCC
        for (int j = 0; j < s; ++j) f(block * s + j, j == 0 ? bytes : _mm256_srli_epi32(bytes, j * Bits));
      }
    } else {
      LOWBIT_UNROLL_GCC
      for (int c = 0; c < GroupSize / 8; ++c) f(c, codes_in_dwords<Bits>(p + c * Bits));
    }
  }
};

}  // namespace avx2
}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_AVX2

#endif  // LOWBIT_DETAIL_X86_AVX2_MATMUL_HPP
