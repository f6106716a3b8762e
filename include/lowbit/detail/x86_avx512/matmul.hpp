// lowbit/detail/x86_avx512/matmul.hpp — quantized matmul on AVX-512: codes unpacked into float lanes as
// dequantize unpacks them, accumulated with FMAs (detail/matmul.hpp, lane_matmul).
#ifndef LOWBIT_DETAIL_X86_AVX512_MATMUL_HPP
#define LOWBIT_DETAIL_X86_AVX512_MATMUL_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_AVX512

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "../../format.hpp"
#include "ops.hpp"

LOWBIT_AVX512_WARNINGS_OFF  // GCC bug 105593: see config.hpp

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace avx512 {

struct matmul_lanes {
  using vec = __m512;
  static constexpr int width = 16;
  static constexpr int partials = 4;
  static LOWBIT_ALWAYS_INLINE vec zero() noexcept { return _mm512_setzero_ps(); }
  static LOWBIT_ALWAYS_INLINE vec load(const float* p) noexcept { return _mm512_loadu_ps(p); }
  static LOWBIT_ALWAYS_INLINE vec set1(float a) noexcept { return _mm512_set1_ps(a); }
  static LOWBIT_ALWAYS_INLINE vec add(vec a, vec b) noexcept { return _mm512_add_ps(a, b); }
  static LOWBIT_ALWAYS_INLINE vec fma(vec a, vec b, vec c) noexcept { return _mm512_fmadd_ps(a, b, c); }
  // n <= 64 scales or biases as floats.
  template <class S>
  static LOWBIT_ALWAYS_INLINE void widen(const S* p, std::size_t n, float* to) noexcept {
    for (std::size_t i = 0; i < n; i += 16) widen_batch(p + i, n - i < 16 ? n - i : 16, to + i);
  }
  static LOWBIT_ALWAYS_INLINE float sum(vec v) noexcept { return _mm512_reduce_add_ps(v); }

  // The group's codes, 16 at a time in 32-bit lanes (chunk_span may read 32 bytes past them).
  template <int Bits, int GroupSize, class F>
  static LOWBIT_ALWAYS_INLINE void codes(const std::uint8_t* p, F&& f) noexcept {
    using geometry = chunk_geometry<Bits, 4>;
    constexpr int chunks = GroupSize / 16;
    constexpr int span = geometry::chunks_per_gather < chunks ? geometry::chunks_per_gather : chunks;
    const __m512i mask = _mm512_set1_epi32(static_cast<int>(format::max_code(Bits)));
    for (int first = 0; first < chunks; first += span) {
      const chunk_span<Bits, 4, span> unpacked(p + first * geometry::chunk_bytes);
        for (int c = 0; c < span; ++c) {
        const __m512i q = Bits == 8 ? unpacked.codes(c) : _mm512_and_si512(unpacked.codes(c), mask);
        f(first + c, _mm512_cvtepi32_ps(q));
      }
    }
  }
};

}  // namespace avx512
}  // namespace detail
LOWBIT_END_NAMESPACE

LOWBIT_AVX512_WARNINGS_ON

#endif  // LOWBIT_HAVE_AVX512

#endif  // LOWBIT_DETAIL_X86_AVX512_MATMUL_HPP
