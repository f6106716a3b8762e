// lowbit/detail/x86_avx2/fp.hpp — the floating-point modes (mxfp4, nvfp4, mxfp8) on AVX2 + F16C.
//
// fp4 (mxfp4, nvfp4): per group, the 16 outputs convert_O(sf * e2m1[code]) are computed with two vmulps (the
// scalar reference's float multiply) and converted to O. Float output looks them up eight codes at a time
// with vpermps, one table per half of the code range, blended on code bit 3. 2-byte output keeps the 16
// values as two byte planes (low and high bytes) and looks up 32 codes with two vpshufb, which index by the
// low four bits of each byte: a 4-bit code is exactly a pshufb index.
//
// mxfp8: E4M3 is decoded through binary16 (the low seven bits shifted left by 7, times 256; exact) with
// vcvtph2ps, then the same vmulps and conversion as the scalar reference.
//
// Exactness, as in x86_avx512/fp.hpp: same scalar scale factor, vmulps alone (no add to fuse), vcvtps2ph for
// half, integer rounding identical to lowbit::bfloat16 for bfloat16; groups whose sf is not finite take the
// scalar reference, so no NaN reaches the vector code.
#ifndef LOWBIT_DETAIL_X86_AVX2_FP_HPP
#define LOWBIT_DETAIL_X86_AVX2_FP_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_AVX2

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../../mode.hpp"
#include "../../types.hpp"
#include "../fp_numeric.hpp"
#include "ops.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace avx2 {

LOWBIT_ALWAYS_INLINE __m256 e2m1_low() noexcept { return _mm256_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f); }
LOWBIT_ALWAYS_INLINE __m256 e2m1_high() noexcept {
  return _mm256_setr_ps(-0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f);
}


// ---- fp4, 2-byte output ----------------------------------------------------------------------------------
// The 16 values as byte planes, each in both 128-bit lanes (vpshufb looks up within a lane).
struct planes {
  __m256i lo, hi;
};
template <class O>
LOWBIT_ALWAYS_INLINE planes fp4_planes(float sf) noexcept {
  const __m256 s = _mm256_set1_ps(sf);
  const __m256i w = words16<O>(_mm256_mul_ps(s, e2m1_low()), _mm256_mul_ps(s, e2m1_high()));  // entries 0..15
  // Within each lane: low bytes of the 8 entries, then their high bytes.
  const __m256i split = _mm256_shuffle_epi8(
      w, _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7,
                          9, 11, 13, 15));
  const __m128i a = _mm256_castsi256_si128(split), b = _mm256_extracti128_si256(split, 1);
  return {_mm256_broadcastsi128_si256(_mm_unpacklo_epi64(a, b)), _mm256_broadcastsi128_si256(_mm_unpackhi_epi64(a, b))};
}

LOWBIT_ALWAYS_INLINE __m128i mask4() noexcept { return _mm_set1_epi8(0x0f); }

// 32 elements from 16 bytes of codes.
LOWBIT_ALWAYS_INLINE void lookup32(const planes& t, const std::uint8_t* p, void* out) noexcept {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i even = _mm_and_si128(b, mask4()), odd = _mm_and_si128(_mm_srli_epi16(b, 4), mask4());
  const __m256i codes =
      _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(even, odd)), _mm_unpackhi_epi8(even, odd), 1);
  const __m256i lo = _mm256_shuffle_epi8(t.lo, codes), hi = _mm256_shuffle_epi8(t.hi, codes);
  const __m256i a = _mm256_unpacklo_epi8(lo, hi);  // elements 0..7 | 16..23
  const __m256i b2 = _mm256_unpackhi_epi8(lo, hi);  // elements 8..15 | 24..31
  auto* o = reinterpret_cast<__m256i*>(out);
  _mm256_storeu_si256(o, _mm256_permute2x128_si256(a, b2, 0x20));
  _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(a, b2, 0x31));
}
// 16 elements from 8 bytes of codes.
LOWBIT_ALWAYS_INLINE void lookup16(const planes& t, const std::uint8_t* p, void* out) noexcept {
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  const __m128i codes = _mm_unpacklo_epi8(_mm_and_si128(b, mask4()), _mm_and_si128(_mm_srli_epi16(b, 4), mask4()));
  const __m128i lo = _mm_shuffle_epi8(_mm256_castsi256_si128(t.lo), codes);
  const __m128i hi = _mm_shuffle_epi8(_mm256_castsi256_si128(t.hi), codes);
  auto* o = reinterpret_cast<__m128i*>(out);
  _mm_storeu_si128(o, _mm_unpacklo_epi8(lo, hi));
  _mm_storeu_si128(o + 1, _mm_unpackhi_epi8(lo, hi));
}



// The fp part of the kernel set (kernel_parts.hpp, per_group_fp): one group of finite scale factor sf.
struct fp_group {
  // fp4, float output: codes in 32-bit lanes as unpacked for the affine mode; vpermps uses index bits 0..2,
  // and bit 3, moved to the sign for blendv, picks the table of negative values.
  template <int GroupSize>
  static LOWBIT_ALWAYS_INLINE void fp4_float(const std::uint8_t* codes, float sf, float* out) noexcept {
    const __m256 s = _mm256_set1_ps(sf);
    const __m256 lo = _mm256_mul_ps(s, e2m1_low()), hi = _mm256_mul_ps(s, e2m1_high());
    for (int c = 0; c < GroupSize / 8; ++c) {
      const __m256i idx = codes_in_dwords<4>(codes + 4 * c);
      const __m256 v = _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, idx), _mm256_permutevar8x32_ps(hi, idx),
                                        _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
      _mm256_storeu_ps(out + 8 * c, v);
    }
  }
  // fp4, 2-byte output: 32 or 16 codes per two vpshufb.
  template <class O>
  static LOWBIT_ALWAYS_INLINE void fp4_words32(const std::uint8_t* codes, float sf, O* out) noexcept {
    lookup32(fp4_planes<O>(sf), codes, out);
  }
  template <class O>
  static LOWBIT_ALWAYS_INLINE void fp4_words16(const std::uint8_t* codes, float sf, O* out) noexcept {
    lookup16(fp4_planes<O>(sf), codes, out);
  }
  // mxfp8: two conversions of 16 codes each, times sf.
  template <class O>
  static LOWBIT_ALWAYS_INLINE void mxfp8(const std::uint8_t* codes, float f, O* out) noexcept {
    const __m256 k256 = _mm256_set1_ps(256.0f), sf = _mm256_set1_ps(f);
    for (int c = 0; c < 2; ++c, codes += 16, out += 16) {
      const __m256i h = e4m3_as_half_bits(codes);
      const __m256 a = _mm256_mul_ps(sf, _mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(h)), k256));
      const __m256 b = _mm256_mul_ps(sf, _mm256_mul_ps(_mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)), k256));
      if constexpr (std::is_same<O, float>::value) {
        _mm256_storeu_ps(out, a);
        _mm256_storeu_ps(out + 8, b);
      } else {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), words16<O>(a, b));
      }
    }
  }
};

}  // namespace avx2
}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_AVX2

#endif  // LOWBIT_DETAIL_X86_AVX2_FP_HPP
