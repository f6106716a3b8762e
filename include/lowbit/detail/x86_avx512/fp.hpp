// lowbit/detail/x86_avx512/fp.hpp — the floating-point modes (mxfp4, nvfp4, mxfp8) on AVX-512 (F + BW).
//
// fp4 (mxfp4, nvfp4): per group, the 16 possible outputs convert_O(sf * e2m1[code]) are computed at once
// with one vmulps (the scalar reference's float multiply) and one conversion to O, and kept in a register;
// each element is then a table lookup with its 4-bit code as the index: vpermps for float output (16 codes
// in 32-bit lanes), vpermw for 2-byte output (32 codes in 16-bit lanes; for nvfp4 two groups share one
// vpermw, the second group's codes offset by 16).
//
// mxfp8: E4M3 is decoded per element without a table: the low seven bits shifted left by 7 are a binary16
// whose value times 256 is the magnitude (exactly, subnormals included), so vcvtph2ps and an exact multiply
// by 256 give the element; then the same vmulps by sf and conversion to O as the scalar reference.
//
// Exactness: the scale factor sf is computed by the same scalar function as in the reference; vmulps is
// the reference's float multiply (nothing to fuse: there is no add); vcvtps2ph rounds to nearest even like
// lowbit::half; bfloat16 rounding is integer code identical to lowbit::bfloat16 for every non-NaN value
// (vcvtneps2bf16 would flush subnormals). Groups whose sf is not finite take the scalar reference, which spells out the NaN bits, so
// the vector code only meets finite factors and never makes a NaN.
#ifndef LOWBIT_DETAIL_X86_AVX512_FP_HPP
#define LOWBIT_DETAIL_X86_AVX512_FP_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_AVX512

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../../mode.hpp"
#include "../../types.hpp"
#include "../fp_numeric.hpp"
#include "../kernel_parts.hpp"
#include "ops.hpp"

LOWBIT_AVX512_WARNINGS_OFF  // GCC bug 105593: see config.hpp

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace avx512 {

LOWBIT_ALWAYS_INLINE __m512 e2m1_table() noexcept {
  return _mm512_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f,
                        -4.0f, -6.0f);
}

// ---- fp4 codes ---------------------------------------------------------------------------------------
// 8 bytes -> their 16 nibbles as bytes in element order (element 2k is the low nibble of byte k).
LOWBIT_ALWAYS_INLINE __m128i nibbles16(const std::uint8_t* p) noexcept {
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  const __m128i mask = _mm_set1_epi8(0x0f);
  return _mm_unpacklo_epi8(_mm_and_si128(b, mask), _mm_and_si128(_mm_srli_epi16(b, 4), mask));
}
// 16 bytes -> their 32 nibbles as bytes in element order.
LOWBIT_ALWAYS_INLINE __m256i nibbles32(const std::uint8_t* p) noexcept {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m128i lo = _mm_and_si128(b, mask), hi = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
  return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(lo, hi)), _mm_unpackhi_epi8(lo, hi), 1);
}

// ---- fp4 groups ----------------------------------------------------------------------------------------
// The group's 16 outputs, in O's representation.
template <class O>
LOWBIT_ALWAYS_INLINE auto fp4_table(float sf) noexcept {
  return narrow<O>(_mm512_mul_ps(_mm512_set1_ps(sf), e2m1_table()));
}

// float output: 16 elements (8 bytes of codes) per vpermps.

// 2-byte output, 32 elements (16 bytes of codes) per vpermw, from a 32-entry table.
LOWBIT_ALWAYS_INLINE void lookup32(const std::uint8_t* codes, __m512i table, __m512i offset, void* out) noexcept {
  const __m512i idx = _mm512_or_si512(_mm512_cvtepu8_epi16(nibbles32(codes)), offset);
  _mm512_storeu_si512(out, _mm512_permutexvar_epi16(idx, table));
}

// nvfp4, 2-byte output: one group of 16 (8 bytes of codes) with a 16-entry table.


// 32 elements: two conversions of 16 codes each, times sf.

// One group of finite scale factor sf (kernel_parts.hpp, per_group_fp).
struct fp_group {
  // fp4, float output: 16 elements (8 bytes of codes) per vpermps.
  template <int GroupSize>
  static LOWBIT_ALWAYS_INLINE void fp4_float(const std::uint8_t* codes, float sf, float* out) noexcept {
    const __m512 table = fp4_table<float>(sf);
    for (int c = 0; c < GroupSize / 16; ++c) {
      const __m512i idx = _mm512_cvtepu8_epi32(nibbles16(codes + 8 * c));
      _mm512_storeu_ps(out + 16 * c, _mm512_permutexvar_ps(idx, table));
    }
  }
  // fp4, 2-byte output: one group of 32, one vpermw (entries 16..31 are never indexed) ...
  template <class O>
  static LOWBIT_ALWAYS_INLINE void fp4_words32(const std::uint8_t* codes, float sf, O* out) noexcept {
    lookup32(codes, _mm512_castsi256_si512(fp4_table<O>(sf)), _mm512_setzero_si512(), out);
  }
  // ... or of 16, with a 16-entry table.
  template <class O>
  static LOWBIT_ALWAYS_INLINE void fp4_words16(const std::uint8_t* codes, float sf, O* out) noexcept {
    const __m512i idx = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(nibbles16(codes)));
    const __m512i v = _mm512_permutexvar_epi16(idx, _mm512_castsi256_si512(fp4_table<O>(sf)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm512_castsi512_si256(v));
  }
  // mxfp8: 32 elements, two conversions of 16 codes each, times sf.
  template <class O>
  static LOWBIT_ALWAYS_INLINE void mxfp8(const std::uint8_t* codes, float f, O* out) noexcept {
    const __m512 k256 = _mm512_set1_ps(256.0f), sf = _mm512_set1_ps(f);
    const __m512i h = e4m3_as_half_bits(codes);
    const __m512 lo = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(h)), k256);  // exact
    const __m512 hi = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1)), k256);
    store<false>(out, narrow<O>(_mm512_mul_ps(sf, lo)));
    store<false>(out + 16, narrow<O>(_mm512_mul_ps(sf, hi)));
  }
};

// The fp part of the kernel set (kernel_parts.hpp): group by group, except nvfp4 with 2-byte output, where
// two groups share one vpermw (the second group's table in entries 16..31).
struct fp_groups {
  template <mode M, bool Global = false, class O>
  static void dequantize_fp(const std::uint32_t* wq, const std::uint8_t* scales, O* out, std::size_t groups,
                            float decode) noexcept {
    if constexpr (M != mode::nvfp4 || std::is_same<O, float>::value) {
      per_group_fp<fp_group>::dequantize_fp<M, Global>(wq, scales, out, groups, decode);
    } else {
      const auto* codes = reinterpret_cast<const std::uint8_t*>(wq);
      const __m512i second = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(16), 1);
      std::size_t g = 0;
      for (; g + 2 <= groups; g += 2) {
        const float sf0 = fp::group_factor<M, O, Global>(scales[g], decode);
        const float sf1 = fp::group_factor<M, O, Global>(scales[g + 1], decode);
        if (finite(sf0) && finite(sf1)) {
          const __m512i table = _mm512_inserti64x4(_mm512_castsi256_si512(fp4_table<O>(sf0)), fp4_table<O>(sf1), 1);
          lookup32(codes + 8 * g, table, second, out + 16 * g);
        } else {  // one at a time, the non-finite one through the scalar reference
          per_group_fp<fp_group>::dequantize_fp<M, Global>(wq + 2 * g, scales + g, out + 16 * g, 2, decode);
        }
      }
      if (g < groups) per_group_fp<fp_group>::dequantize_fp<M, Global>(wq + 2 * g, scales + g, out + 16 * g, 1, decode);
    }
  }
};

}  // namespace avx512
}  // namespace detail
LOWBIT_END_NAMESPACE

LOWBIT_AVX512_WARNINGS_ON

#endif  // LOWBIT_HAVE_AVX512

#endif  // LOWBIT_DETAIL_X86_AVX512_FP_HPP
