// lowbit/detail/x86_avx2/ops.hpp — the AVX2 + F16C primitives every kernel is built from: constants and
// code unpacking into lanes, exact conversions and roundings to half and bfloat16, widening loads of
// scales with their finiteness, and regular or non-temporal stores.
#ifndef LOWBIT_DETAIL_X86_AVX2_OPS_HPP
#define LOWBIT_DETAIL_X86_AVX2_OPS_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_AVX2

#include <immintrin.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "../../format.hpp"
#include "../../types.hpp"
#include "../numeric.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace avx2 {

// ---- unpacking: codes into the low bits of 32-bit lanes ---------------------------------------------
// Lane i takes the code of element First + Stride * i of a chunk of Loaded bytes: the one or two bytes from
// byte e * Bits / 8 of the chunk that hold element e (a pshufb, zeros above them) shifted right by
// (e * Bits) % 8. Higher bits hold the neighbour's code, except for 8 bits, where a lane is the code.
template <int Bits, int Stride = 1, int First = 0, int Loaded = 8>
constexpr std::array<std::int8_t, 32> dword_byte_windows() {
  std::array<std::int8_t, 32> idx{};
  for (int lane = 0; lane < 8; ++lane) {
    const int element = First + Stride * lane, bit = element * Bits;
    const int span = (bit % 8 + Bits + 7) / 8;  // bytes the code touches: 1 or 2
    for (int k = 0; k < 4; ++k) {
      const int byte = bit / 8 + k;
      const bool take = k < span && byte < Loaded;
      idx[16 * (lane / 4) + 4 * (lane % 4) + k] = static_cast<std::int8_t>(take ? byte : -128);  // -128: zero
    }
  }
  return idx;
}
template <int Bits, int Stride = 1, int First = 0>
constexpr std::array<std::int32_t, 8> dword_shifts() {
  std::array<std::int32_t, 8> s{};
  for (int i = 0; i < 8; ++i) {
    const int bit = (First + Stride * i) * Bits;
    s[i] = Bits <= 4 ? bit : bit % 8;  // bits <= 4: shifts of the whole broadcast word
  }
  return s;
}

template <class T, std::size_t N>
LOWBIT_ALWAYS_INLINE __m256i load_constant(const std::array<T, N>& a) noexcept {
  static_assert(sizeof(T) * N == 32, "a constant vector is 32 bytes");
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.data()));
}

// The 8 codes of a chunk of Bits bytes starting at p (higher bits: garbage, except for 8 bits).
template <int Bits>
LOWBIT_ALWAYS_INLINE __m256i codes_in_dwords(const std::uint8_t* p) noexcept {
  static constexpr auto shifts = dword_shifts<Bits>();
  if constexpr (Bits == 8) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  } else if constexpr (Bits <= 4) {  // 8 codes fit in 32 bits: broadcast, shift each lane to its code
    std::uint32_t word;
    std::memcpy(&word, p, 4);  // may read past the chunk: see overread
    return _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(word)), load_constant(shifts));
  } else {
    static constexpr auto windows = dword_byte_windows<Bits>();
    std::uint64_t chunk;
    std::memcpy(&chunk, p, 8);
    const __m256i bytes = _mm256_set1_epi64x(static_cast<long long>(chunk));
    return _mm256_srlv_epi32(_mm256_shuffle_epi8(bytes, load_constant(windows)), load_constant(shifts));
  }
}
// The same codes as floats: the garbage masked off.
template <int Bits>
LOWBIT_ALWAYS_INLINE __m256 code_floats(__m256i codes) noexcept {
  if constexpr (Bits < 8) codes = _mm256_and_si256(codes, _mm256_set1_epi32(static_cast<int>(format::max_code(Bits))));
  return _mm256_cvtepi32_ps(codes);
}

// The 16 codes of a chunk of 2 * Bits bytes (5 <= Bits <= 8) as floats, the even elements in `even` and the
// odd ones in `odd`, each in order: two results of the rule then share 32-bit lanes in memory order.
struct code_pairs {
  __m256 even, odd;
};
template <int Bits>
LOWBIT_ALWAYS_INLINE code_pairs codes_in_pairs(const std::uint8_t* p) noexcept {
  static_assert(Bits >= 5 && Bits <= 8, "a 16-byte load holds the chunk, and the codes need no whole-word shift");
  static constexpr auto even_windows = dword_byte_windows<Bits, 2, 0, 16>();
  static constexpr auto odd_windows = dword_byte_windows<Bits, 2, 1, 16>();
  static constexpr auto even_shifts = dword_shifts<Bits, 2, 0>(), odd_shifts = dword_shifts<Bits, 2, 1>();
  // 16 bytes from p: at most 16 - 2 * 5 past the chunk, see overread.
  const __m256i bytes = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  __m256i even = _mm256_shuffle_epi8(bytes, load_constant(even_windows));
  __m256i odd = _mm256_shuffle_epi8(bytes, load_constant(odd_windows));
  if constexpr (Bits < 8) {
    even = _mm256_srlv_epi32(even, load_constant(even_shifts));
    odd = _mm256_srlv_epi32(odd, load_constant(odd_shifts));
  }
  return {code_floats<Bits>(even), code_floats<Bits>(odd)};
}

// mxfp8 (E4M3) codes as binary16 bits: the low seven bits shifted left by 7 are a half whose value times 256
// is the magnitude.
// 16 E4M3 bytes -> binary16 bits: (b << 8) shifted right arithmetically by one, bit 14 cleared.
LOWBIT_ALWAYS_INLINE __m256i e4m3_as_half_bits(const std::uint8_t* p) noexcept {
  const __m256i w = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_and_si256(_mm256_srai_epi16(_mm256_slli_epi16(w, 8), 1), _mm256_set1_epi16(static_cast<short>(0xbf80)));
}

// ---- conversions and roundings ---------------------------------------------------------------------
LOWBIT_ALWAYS_INLINE __m128i half_bits(__m256 x) noexcept {
  return _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
// float -> bfloat16, round to nearest even, as lowbit::bfloat16 for every non-NaN value (no NaN reaches
// here: groups with a non-finite scale or bias take the scalar reference): x's bits plus the rounding
// increment, so the bfloat16 is the high 16 bits of each lane (a carry into the exponent is the right
// result) and the low 16 bits are garbage; round_to_bfloat16 clears them to give the value as a float.
LOWBIT_ALWAYS_INLINE __m256i bfloat16_rounded(__m256 x) noexcept {
  const __m256i u = _mm256_castps_si256(x);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  return _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
}
LOWBIT_ALWAYS_INLINE __m256 round_to_bfloat16(__m256 x) noexcept {
  return _mm256_castsi256_ps(_mm256_and_si256(bfloat16_rounded(x), _mm256_set1_epi32(static_cast<int>(0xffff0000u))));
}
LOWBIT_ALWAYS_INLINE __m256 widen_half(__m128i h) noexcept { return _mm256_cvtph_ps(h); }
LOWBIT_ALWAYS_INLINE __m256 widen_bfloat16_dwords(__m256i b) noexcept {  // b: bfloat16 in low 16 bits
  return _mm256_castsi256_ps(_mm256_slli_epi32(b, 16));
}
// 16-bit values in the low halves of 32-bit lanes -> 8 packed 16-bit values, in order.
LOWBIT_ALWAYS_INLINE __m128i narrow_dwords(__m256i x) noexcept {
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(x, x), 0x08));
}
LOWBIT_ALWAYS_INLINE __m256i widen_words(__m128i h) noexcept { return _mm256_cvtepu16_epi32(h); }

// 8 scales (or biases) of S widened to float into `to` (n <= 8 of them read); returns the bit mask of the
// finite ones.
LOWBIT_ALWAYS_INLINE __m256 load_floats(const float* p) noexcept { return _mm256_loadu_ps(p); }
LOWBIT_ALWAYS_INLINE __m256 load_floats(const half* p) noexcept {
  return widen_half(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
LOWBIT_ALWAYS_INLINE __m256 load_floats(const bfloat16* p) noexcept {
  return widen_bfloat16_dwords(widen_words(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
template <class S>
LOWBIT_ALWAYS_INLINE unsigned widen_batch(const S* p, std::size_t n, float* to) noexcept {
  __m256 x;
  if (n == 8) {
    x = load_floats(p);
  } else {  // the last, partial batch: never read past the array
    S part[8] = {};
    std::memcpy(part, p, n * sizeof(S));
    x = load_floats(part);
  }
  _mm256_store_ps(to, x);
  const __m256 magnitude = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
  const __m256 finite = _mm256_cmp_ps(magnitude, _mm256_set1_ps(std::numeric_limits<float>::infinity()), _CMP_LT_OQ);
  return static_cast<unsigned>(_mm256_movemask_ps(finite)) & ((1u << n) - 1);
}

// x rounded to S (half or bfloat16) without the general conversions, for x that is zero or normal in S
// and no larger than 2^100 (affine.hpp's normal_products admits the scales whose products all are). With g = x * (2^k + 1), g - (g - x) is x rounded to
// 24 - k significant bits (Veltkamp's split; Dekker, "A floating-point technique for extending the
// available precision", 1971): k = 13 for half, 16 for bfloat16, which within those ranges is exactly S's
// precision, and no operation overflows. It rounds to nearest; tests/backend_test.cpp checks for every
// admitted product of each S that ties go to even and zeros keep their sign. Three float operations
// instead of five integer ones. no_contract keeps the
// compiler from fusing x * C - x into an FMA and, under -ffast-math, from simplifying g - (g - x) or
// reassociating it with the bias added next.
template <int Dropped>
LOWBIT_ALWAYS_INLINE __m256 split_round(__m256 x) noexcept {
  const __m256 g = no_contract(_mm256_mul_ps(x, _mm256_set1_ps(static_cast<float>((1 << Dropped) + 1))));
  return no_contract(_mm256_sub_ps(g, no_contract(_mm256_sub_ps(g, x))));
}
template <class S>
LOWBIT_ALWAYS_INLINE __m256 round_normal_product(__m256 x) noexcept {
  return split_round<std::is_same<S, half>::value ? 13 : 16>(x);
}

// 16 values of O (half or bfloat16) from two sets of 8 float lanes, in order.
template <class O>
LOWBIT_ALWAYS_INLINE __m256i words16(__m256 a, __m256 b) noexcept {
  if constexpr (std::is_same<O, half>::value) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(half_bits(a)), half_bits(b), 1);
  } else {
    const __m256i da = _mm256_srli_epi32(bfloat16_rounded(a), 16), db = _mm256_srli_epi32(bfloat16_rounded(b), 16);
    return _mm256_permute4x64_epi64(_mm256_packus_epi32(da, db), 0xd8);
  }
}

// ---- stores ---------------------------------------------------------------------------------------
// Regular, or non-temporal (Stream: the output is 64-byte aligned and each group's output whole lines, and
// a group's stores go in address order, so the consecutive stores of each line fill it whole).
template <bool Stream>
LOWBIT_ALWAYS_INLINE void store(void* p, __m256i v) noexcept {
  if constexpr (Stream) _mm256_stream_si256(static_cast<__m256i*>(p), v);
  else _mm256_storeu_si256(static_cast<__m256i*>(p), v);
}
template <bool Stream>
LOWBIT_ALWAYS_INLINE void store(void* p, __m256 v) noexcept { store<Stream>(p, _mm256_castps_si256(v)); }
template <bool Stream>
LOWBIT_ALWAYS_INLINE void store(void* p, __m128i v) noexcept {
  if constexpr (Stream) _mm_stream_si128(static_cast<__m128i*>(p), v);
  else _mm_storeu_si128(static_cast<__m128i*>(p), v);
}
// One 64-byte line copied with non-temporal stores, and the fence that orders them before what follows
// (kernel_parts.hpp, streaming_stores).
struct lines {
  static LOWBIT_ALWAYS_INLINE void stream(unsigned char* d, const unsigned char* s) noexcept {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s)));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + 32), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 32)));
  }
  static LOWBIT_ALWAYS_INLINE void fence() noexcept { _mm_sfence(); }
};

}  // namespace avx2
}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_AVX2

#endif  // LOWBIT_DETAIL_X86_AVX2_OPS_HPP
