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
#include "../matmul.hpp"
#include "ops.hpp"

LOWBIT_AVX512_WARNINGS_OFF  // GCC bug 105593: see config.hpp

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace avx512 {

struct matmul_lanes {
  using vec = __m512;
  static constexpr int rows = 4;  // rows of W per pass (transposed)
  static constexpr int columns = 256;  // floats of y per tile (not transposed)
  using ivec = __m512i;
  static constexpr int width = 16;
  static LOWBIT_ALWAYS_INLINE vec zero() noexcept { return _mm512_setzero_ps(); }
  static LOWBIT_ALWAYS_INLINE vec load(const float* p) noexcept { return _mm512_loadu_ps(p); }
  static LOWBIT_ALWAYS_INLINE void store(float* p, vec v) noexcept { _mm512_storeu_ps(p, v); }
  static LOWBIT_ALWAYS_INLINE vec set1(float a) noexcept { return _mm512_set1_ps(a); }
  static LOWBIT_ALWAYS_INLINE vec mul(vec a, vec b) noexcept { return _mm512_mul_ps(a, b); }
  static LOWBIT_ALWAYS_INLINE vec fma(vec a, vec b, vec c) noexcept { return _mm512_fmadd_ps(a, b, c); }
  // n <= 64 scales or biases as floats.
  template <class S>
  static LOWBIT_ALWAYS_INLINE void widen(const S* p, std::size_t n, float* to) noexcept {
    for (std::size_t i = 0; i < n; i += 16) widen_batch(p + i, n - i < 16 ? n - i : 16, to + i);
  }
  static LOWBIT_ALWAYS_INLINE float sum(vec v) noexcept { return _mm512_reduce_add_ps(v); }

  // Codes to values, from lanes whose bits above the code may hold other codes. Affine codes of up to 4
  // bits: a 16-entry table of floats indexed by the low four bits of each lane (vpermps ignores the rest),
  // which saves the mask; wider ones masked and converted. E2M1 from its table likewise. E4M3 by integer
  // operations on the float's bits (its exponent rebiased by 120), or for subnormals m * 2^-9 from the
  // integer m: never a subnormal float operand, which costs a microcode assist on x86 and reads as zero
  // under the flush-to-zero mode -ffast-math sets.
  template <int Bits>
  static LOWBIT_ALWAYS_INLINE vec affine_values(ivec q) noexcept {
    if constexpr (Bits <= 4) {
      alignas(64) static constexpr float codes[16] = {0,      1 % (1 << Bits),  2 % (1 << Bits),  3 % (1 << Bits),
                                                      4 % (1 << Bits),  5 % (1 << Bits),  6 % (1 << Bits),
                                                      7 % (1 << Bits),  8 % (1 << Bits),  9 % (1 << Bits),
                                                      10 % (1 << Bits), 11 % (1 << Bits), 12 % (1 << Bits),
                                                      13 % (1 << Bits), 14 % (1 << Bits), 15 % (1 << Bits)};
      return _mm512_permutexvar_ps(q, _mm512_load_ps(codes));
    } else {
      return _mm512_cvtepi32_ps(_mm512_and_si512(q, _mm512_set1_epi32(static_cast<int>(format::max_code(Bits)))));
    }
  }
  static LOWBIT_ALWAYS_INLINE vec e2m1(ivec q) noexcept { return _mm512_permutexvar_ps(q, e2m1_values()); }
  static LOWBIT_ALWAYS_INLINE vec e4m3(ivec q) noexcept {
    const __m512i t = _mm512_and_si512(q, _mm512_set1_epi32(0x7f));
    const __m512 normal = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_slli_epi32(t, 20), _mm512_set1_epi32(120 << 23)));
    const __m512 magnitude = _mm512_mask_mul_ps(normal, _mm512_cmplt_epi32_mask(t, _mm512_set1_epi32(8)),
                                                _mm512_cvtepi32_ps(t), _mm512_set1_ps(0x1p-9f));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(magnitude),
                                               _mm512_slli_epi32(_mm512_and_si512(q, _mm512_set1_epi32(0x80)), 24)));
  }

  // Codes of 1, 2, 4 or 8 bits come one byte per lane (16 bytes per vpmovzxbd), when a block of 16 bytes'
  // codes stays within a group.
  template <int Bits, int GroupSize>
  static constexpr int stride() noexcept {
    return 8 % Bits == 0 && 16 * (8 / Bits) <= GroupSize ? 8 / Bits : 1;
  }

  template <class Weights, class F>
  static LOWBIT_ALWAYS_INLINE void values(const std::uint8_t* p, F&& f) noexcept {
    values_from_codes<matmul_lanes, Weights>(p, f);
  }

  // The group's codes, 16 at a time in 32-bit lanes, each code in the low bits of its lane and other codes'
  // bits possibly above it (chunk_span may read 32 bytes past them).
  template <int Bits, int GroupSize, class F>
  static LOWBIT_ALWAYS_INLINE void codes(const std::uint8_t* p, F&& f) noexcept {
    constexpr int s = stride<Bits, GroupSize>();
    if constexpr (s > 1 || Bits == 8) {
      LOWBIT_UNROLL_GCC
      for (int block = 0; block < GroupSize / (16 * s); ++block) {
        const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * block)));
        LOWBIT_UNROLL_GCC
        for (int j = 0; j < s; ++j) f(block * s + j, j == 0 ? bytes : _mm512_srli_epi32(bytes, j * Bits));
      }
    } else {
      using geometry = chunk_geometry<Bits, 4>;
      constexpr int chunks = GroupSize / 16;
      constexpr int span = geometry::chunks_per_gather < chunks ? geometry::chunks_per_gather : chunks;
      LOWBIT_UNROLL_GCC
      for (int first = 0; first < chunks; first += span) {
        const chunk_span<Bits, 4, span> unpacked(p + first * geometry::chunk_bytes);
        LOWBIT_UNROLL_GCC
        for (int c = 0; c < span; ++c) f(first + c, unpacked.codes(c));
      }
    }
  }

 private:
  static LOWBIT_ALWAYS_INLINE __m512 e2m1_values() noexcept {
    return _mm512_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f,
                          -4.0f, -6.0f);
  }
};

}  // namespace avx512
}  // namespace detail
LOWBIT_END_NAMESPACE

LOWBIT_AVX512_WARNINGS_ON

#endif  // LOWBIT_HAVE_AVX512

#endif  // LOWBIT_DETAIL_X86_AVX512_MATMUL_HPP
