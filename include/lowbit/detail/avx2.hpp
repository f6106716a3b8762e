// lowbit/detail/avx2.hpp — AVX2 + F16C kernels.
//
// For bits <= 3 the group's 2^Bits outputs are computed once with the exact rule and looked up with vpermd,
// eight codes at a time in 32-bit lanes; for 4 bits with vpshufb in byte tables, 32 codes at a time (except
// float -> float, where the rule is as cheap as a second lookup); for more bits the rule is applied per
// element with the same operations (see "how a group's outputs are made" below). Why each step is exact is
// explained in avx512.hpp; the operations here are their 256-bit counterparts: vmulps, then vaddps behind
// no_contract (never an FMA), vcvtps2ph for half (round to nearest even, as lowbit::half), integer rounding
// for bfloat16; products of scales whose products are all normal in S are rounded by Veltkamp's split
// (see round_normal_product).
#pragma once

#include "../config.hpp"

#if LOWBIT_HAVE_AVX2

#include <immintrin.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "../format.hpp"
#include "../types.hpp"
#include "numeric.hpp"
#include "scalar.hpp"
#include "x86_stream.hpp"

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

// ---- the rule, 8 lanes at a time ------------------------------------------------------------------
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

// The rounding of s * q to S (half or bfloat16) without the general conversions, for the scales whose
// every product is zero or normal in S: for half, of a normal half magnitude (as in detail/avx512.hpp);
// for bfloat16, a normal float no larger than 2^100. With g = x * (2^k + 1), g - (g - x) is x rounded to
// 24 - k significant bits (Veltkamp's split; Dekker, "A floating-point technique for extending the
// available precision", 1971): k = 13 for half, 16 for bfloat16, which within those ranges is exactly S's
// precision, and no operation overflows. It rounds to nearest; tests/backend_test.cpp checks for every
// admitted product of each S that ties go to even and zeros keep their sign. Three float operations
// instead of five integer ones (Zen 3, 64x1024, ns per group: 4-bit half->half 5.3 -> 4.8, 8-bit 10.6 ->
// 8.9, 8-bit half->float 13.4 -> 11.6, 8-bit bfloat16->bfloat16 12.7 -> 11.5). no_contract keeps the
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
template <int Bits, class S>
LOWBIT_ALWAYS_INLINE unsigned normal_products(const float* scales) noexcept {
  constexpr bool is_half = std::is_same<S, half>::value;
  const float smallest = is_half ? 0x1p-14f : 0x1p-126f;
  const float largest = (is_half ? 65504.0f : 0x1p100f) / static_cast<float>(format::max_code(Bits));
  const __m256 magnitude = _mm256_and_ps(_mm256_load_ps(scales), _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
  const __m256 zero = _mm256_cmp_ps(magnitude, _mm256_setzero_ps(), _CMP_EQ_OQ);
  const __m256 low = _mm256_cmp_ps(magnitude, _mm256_set1_ps(smallest), _CMP_GE_OQ);
  const __m256 high = _mm256_cmp_ps(magnitude, _mm256_set1_ps(largest), _CMP_LE_OQ);
  return static_cast<unsigned>(_mm256_movemask_ps(_mm256_or_ps(zero, _mm256_and_ps(low, high))));
}

// A group's finite scale and bias (as floats: exact for every S), broadcast. value_float gives 8 floats;
// value_words<O> 8 packed 16-bit values of O; value_bfloat16_dwords bfloat16 output in 32-bit lanes.
// NormalProducts (S = half or bfloat16): normal_products admitted the scale.
template <class S, bool NormalProducts = false>
struct affine_rule {
  using scale_type = S;
  __m256 scale, bias;
  LOWBIT_ALWAYS_INLINE affine_rule(float s, float b) noexcept : scale(_mm256_set1_ps(s)), bias(_mm256_set1_ps(b)) {}

  LOWBIT_ALWAYS_INLINE __m256 sum(__m256 q) const noexcept {
    if constexpr (std::is_same<S, float>::value) {
      return _mm256_add_ps(no_contract(_mm256_mul_ps(scale, q)), bias);
    } else {
      const __m256 product = _mm256_mul_ps(scale, q);  // exact in float
      if constexpr (NormalProducts) return _mm256_add_ps(round_normal_product<S>(product), bias);
      else if constexpr (std::is_same<S, half>::value) return _mm256_add_ps(widen_half(half_bits(product)), bias);
      else return _mm256_add_ps(round_to_bfloat16(product), bias);
    }
  }

  // float output.
  LOWBIT_ALWAYS_INLINE __m256 value_float(__m256 q) const noexcept {
    const __m256 x = sum(q);
    if constexpr (std::is_same<S, float>::value) return x;
    else if constexpr (std::is_same<S, half>::value) return widen_half(half_bits(x));
    else return round_to_bfloat16(x);
  }
  // bfloat16 output, in the high 16 bits of 32-bit lanes (low: garbage), or in the low 16 bits.
  LOWBIT_ALWAYS_INLINE __m256i value_bfloat16_rounded(__m256 q) const noexcept {
    const __m256 x = sum(q);
    if constexpr (std::is_same<S, half>::value) return bfloat16_rounded(widen_half(half_bits(x)));
    else return bfloat16_rounded(x);  // for S = bfloat16 the sum's rounding is the output's
  }
  LOWBIT_ALWAYS_INLINE __m256i value_bfloat16_dwords(__m256 q) const noexcept {
    return _mm256_srli_epi32(value_bfloat16_rounded(q), 16);
  }
  // 2-byte output O, as 8 packed 16-bit values.
  template <class O>
  LOWBIT_ALWAYS_INLINE __m128i value_words(__m256 q) const noexcept {
    if constexpr (std::is_same<O, bfloat16>::value) {
      return narrow_dwords(value_bfloat16_dwords(q));
    } else {
      const __m256 x = sum(q);
      if constexpr (std::is_same<S, bfloat16>::value) return half_bits(round_to_bfloat16(x));
      else return half_bits(x);  // for S = half the sum's rounding is the output's
    }
  }
};

// The codes j .. j+7 (mod 2^Bits) as floats, for building tables.
template <int Bits>
LOWBIT_ALWAYS_INLINE __m256 table_codes(int first) noexcept {
  const __m256i j = _mm256_add_epi32(_mm256_set1_epi32(first), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return _mm256_cvtepi32_ps(_mm256_and_si256(j, _mm256_set1_epi32(static_cast<int>(format::max_code(Bits)))));
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

// ---- how a group's outputs are made -------------------------------------------------------------------
// Measured on Zen 3 (64x1024, group 64, fraction of memset's speed, microbenchmark, interleaved runs):
//   * bits <= 3: a table of 8 entries, one vpermd per 8 outputs (3-bit float 0.61-0.66, per element 0.54-0.56);
//   * 4 bits, float -> float: per element, 0.54, against 0.32 for two 8-entry tables and a blend: the rule
//     costs a conversion, a multiply and an add, no more than the second lookup and the blend;
//   * 4 bits, otherwise: byte tables (below), where the rule's roundings would cost several times that;
//   * 5 to 8 bits: per element (tables would need 4 to 32 lookups per vector).
template <int Bits, class S, class O>
constexpr bool per_element = Bits > 4 || (Bits == 4 && std::is_same<S, float>::value && std::is_same<O, float>::value);
template <int Bits, class S, class O>
constexpr bool byte_lookups = Bits == 4 && !per_element<Bits, S, O>;

// ---- bits <= 3: a table of 8 entries, as 32-bit lanes ------------------------------------------------
// Entries are floats (float output) or 16-bit values in 32-bit lanes (2-byte output); vpermd uses index
// bits 0..2, so the garbage above a code is ignored, and for 2 bits the table repeats itself.
template <int Bits>
struct table {
  __m256i entries;
  template <class O, class Rule>
  LOWBIT_ALWAYS_INLINE static table make(const Rule& rule) noexcept {
    if constexpr (std::is_same<O, float>::value) {
      return {_mm256_castps_si256(rule.value_float(table_codes<Bits>(0)))};
    } else {
      return {widen_words(rule.template value_words<O>(table_codes<Bits>(0)))};
    }
  }
  LOWBIT_ALWAYS_INLINE __m256i lookup(__m256i codes) const noexcept { return _mm256_permutevar8x32_epi32(entries, codes); }
};

// ---- 4 bits: byte tables for vpshufb ---------------------------------------------------------------------
// The 16 possible outputs as 16-bit values (of O, or of S when the output is float: the value is then S's,
// widened exactly), their low bytes and high bytes as two 16-byte tables (in both 128-bit lanes): a code is a
// nibble, which vpshufb takes as an index directly, so 32 outputs cost two lookups and some interleaving,
// against four vpermd, two blends and a pack for 32-bit table entries (Zen 4, 4-bit half->half, 64x1024:
// 7.8 -> 5.5 ns per group).
struct byte_tables {
  __m256i lo, hi;
  template <class W, class Rule>
  LOWBIT_ALWAYS_INLINE static byte_tables make(const Rule& rule) noexcept {
    if constexpr (std::is_same<W, bfloat16>::value) {
      // vpackusdw packs within 128-bit lanes: codes 0-3 | 8-11 and 4-7 | 12-15 give values 0-7 | 8-15 (all
      // below 2^16: no saturation). Then in each lane the low bytes, then the high bytes; quadwords 0, 2
      // (low bytes of values 0-7, 8-15) and 1, 3 (high bytes) into both lanes.
      const __m256i words = _mm256_packus_epi32(rule.value_bfloat16_dwords(_mm256_setr_ps(0, 1, 2, 3, 8, 9, 10, 11)),
                                                rule.value_bfloat16_dwords(_mm256_setr_ps(4, 5, 6, 7, 12, 13, 14, 15)));
      const __m256i split = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15,
                                             0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
      const __m256i bytes = _mm256_shuffle_epi8(words, split);
      return {_mm256_permute4x64_epi64(bytes, 0x88), _mm256_permute4x64_epi64(bytes, 0xdd)};
    } else {
      // vcvtps2ph gives values 0-7 and 8-15 in two 128-bit registers: split them there (Zen 3, 4-bit
      // half->half: 5.65 ns per group, against 5.95 joining them first as above).
      const __m128i split = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
      const __m128i a = _mm_shuffle_epi8(rule.template value_words<W>(table_codes<4>(0)), split);  // codes 0-7
      const __m128i b = _mm_shuffle_epi8(rule.template value_words<W>(table_codes<4>(8)), split);  // codes 8-15
      return {_mm256_broadcastsi128_si256(_mm_unpacklo_epi64(a, b)), _mm256_broadcastsi128_si256(_mm_unpackhi_epi64(a, b))};
    }
  }

  // 32 outputs from the 32 codes in the 16 bytes at p (element 2j in the low nibble of byte j, as MLX packs
  // them). Each 128-bit lane takes 8 of the bytes (`spread` says which, in order) and expands them to 16
  // codes; the lookups give each code's low and high byte, and the in-lane byte interleaves of those are
  // the 16-bit values of the lane's codes 0-7 (`first`) and 8-15 (`second`).
  struct words {
    __m256i first, second;
  };
  LOWBIT_ALWAYS_INLINE words lookup(const std::uint8_t* p, __m256i spread) const noexcept {
    const __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m256i bytes = _mm256_shuffle_epi8(both, spread);
    const __m256i codes = _mm256_and_si256(_mm256_unpacklo_epi8(bytes, _mm256_srli_epi16(bytes, 4)), _mm256_set1_epi8(0x0f));
    const __m256i low = _mm256_shuffle_epi8(lo, codes), high = _mm256_shuffle_epi8(hi, codes);
    return {_mm256_unpacklo_epi8(low, high), _mm256_unpackhi_epi8(low, high)};
  }
  // Lane 0 takes bytes 0-3 and 8-11 (outputs 0-7, 16-23), lane 1 bytes 4-7 and 12-15 (outputs 8-15, 24-31),
  // so that `first` holds outputs 0-7 | 8-15 and `second` 16-23 | 24-31: no lane crossing.
  static LOWBIT_ALWAYS_INLINE __m256i in_eights() noexcept {
    return _mm256_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, -1, -1, -1, -1, -1, -1, -1, -1,
                            4, 5, 6, 7, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1);
  }
  // Lane 0 takes bytes 0, 1, 4, 5, 8, 9, 12, 13 (outputs 0-3, 8-11, 16-19, 24-27), lane 1 the others, so that
  // widening the 16-bit values to 32 bits within lanes (4 per lane and step) keeps the outputs in order.
  static LOWBIT_ALWAYS_INLINE __m256i in_fours() noexcept {
    return _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1,
                            2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1);
  }

  // 2-byte output: the values are the outputs.
  template <bool Stream, class O>
  LOWBIT_ALWAYS_INLINE void write(const std::uint8_t* p, O* out) const noexcept {
    const words w = lookup(p, in_eights());
    store<Stream>(out, w.first);
    store<Stream>(out + 16, w.second);
  }
  // Float output from half values: vcvtph2ps widens 8 at a time, in order.
  template <bool Stream>
  LOWBIT_ALWAYS_INLINE void write_from_half(const std::uint8_t* p, float* out) const noexcept {
    const words w = lookup(p, in_eights());
    store<Stream>(out, widen_half(_mm256_castsi256_si128(w.first)));
    store<Stream>(out + 8, widen_half(_mm256_extracti128_si256(w.first, 1)));
    store<Stream>(out + 16, widen_half(_mm256_castsi256_si128(w.second)));
    store<Stream>(out + 24, widen_half(_mm256_extracti128_si256(w.second, 1)));
  }
  // Float output from bfloat16 values: a bfloat16 is the high half of its float, so interleaving zero words
  // below the values widens them exactly.
  template <bool Stream>
  LOWBIT_ALWAYS_INLINE void write_from_bfloat16(const std::uint8_t* p, float* out) const noexcept {
    const words w = lookup(p, in_fours());
    const __m256i zero = _mm256_setzero_si256();
    store<Stream>(out, _mm256_unpacklo_epi16(zero, w.first));
    store<Stream>(out + 8, _mm256_unpackhi_epi16(zero, w.first));
    store<Stream>(out + 16, _mm256_unpacklo_epi16(zero, w.second));
    store<Stream>(out + 24, _mm256_unpackhi_epi16(zero, w.second));
  }
};

// ---- one group ---------------------------------------------------------------------------------
template <int Bits, int GroupSize, bool Stream, class Rule, class O>
LOWBIT_ALWAYS_INLINE void dequantize_group(const std::uint8_t* codes, const Rule& rule, O* out) noexcept {
  using S = typename Rule::scale_type;
  if constexpr (byte_lookups<Bits, S, O>) {
    constexpr bool float_out = std::is_same<O, float>::value;
    const byte_tables lut = byte_tables::make<std::conditional_t<float_out, S, O>>(rule);
    LOWBIT_UNROLL
    for (int c = 0; c < GroupSize / 32; ++c) {
      if constexpr (!float_out) lut.template write<Stream>(codes + 16 * c, out + 32 * c);
      else if constexpr (std::is_same<S, half>::value) lut.template write_from_half<Stream>(codes + 16 * c, out + 32 * c);
      else lut.template write_from_bfloat16<Stream>(codes + 16 * c, out + 32 * c);
    }
  } else if constexpr (!per_element<Bits, S, O>) {
    const table<Bits> lut = table<Bits>::template make<O>(rule);
    LOWBIT_UNROLL
    for (int c = 0; c < GroupSize / 8; c += 2) {
      const __m256i a = lut.lookup(codes_in_dwords<Bits>(codes + c * Bits));
      const __m256i b = lut.lookup(codes_in_dwords<Bits>(codes + (c + 1) * Bits));
      if constexpr (std::is_same<O, float>::value) {
        store<Stream>(out + 8 * c, a);
        store<Stream>(out + 8 * c + 8, b);
      } else {  // 16 values: pack the two halves of each lane pair, then restore the order
        const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);
        store<Stream>(out + 8 * c, packed);
      }
    }
  } else if constexpr (std::is_same<O, bfloat16>::value) {
    // bfloat16 output, 16 at a time: the even and odd elements' values, rounded in the high halves of their
    // lanes, are joined by one shift and one blend (output 2i low, 2i + 1 high: memory order), where narrowing
    // 8 in order takes a shift, a pack and a lane permute (Zen 3, 8-bit bfloat16->bfloat16, 64x1024:
    // 18.7 -> 12.9 ns per group).
    LOWBIT_UNROLL
    for (int c = 0; c < GroupSize / 16; ++c) {
      const code_pairs q = codes_in_pairs<Bits>(codes + c * 2 * Bits);
      const __m256i even = rule.value_bfloat16_rounded(q.even), odd = rule.value_bfloat16_rounded(q.odd);
      store<Stream>(out + 16 * c, _mm256_blend_epi16(_mm256_srli_epi32(even, 16), odd, 0xaa));
    }
  } else {
    LOWBIT_UNROLL
    for (int c = 0; c < GroupSize / 8; ++c) {
      const __m256 q = code_floats<Bits>(codes_in_dwords<Bits>(codes + c * Bits));
      if constexpr (std::is_same<O, float>::value) {
        store<Stream>(out + 8 * c, rule.value_float(q));
      } else {
        store<Stream>(out + 8 * c, rule.template value_words<O>(q));
      }
    }
  }
}

}  // namespace avx2

struct avx2_kernels {
  static constexpr const char* name = "avx2";
  static constexpr bool has_streaming_stores = true;
  static constexpr std::size_t overread = 8;  // chunk loads may read this many bytes past the codes
  static void stream_lines(void* dst, const void* src, std::size_t bytes) noexcept { detail::stream_lines(dst, src, bytes); }
  static void stream_fence() noexcept { detail::stream_fence(); }

  template <int Bits, int GroupSize, class S, class O>
  static void dequantize(const std::uint32_t* wq, const S* scales, const S* biases, O* out,
                         std::size_t groups) noexcept {
    run<Bits, GroupSize, false>(wq, scales, biases, out, groups);
  }
  // The same with non-temporal stores straight from the kernel: out must be 64-byte aligned (Zen 3, 4-bit,
  // group 64, 11008x4096: float 0.64 -> 0.84-0.88 of the non-temporal roofline, half 0.56 -> 0.65, against a
  // buffer in L1 copied out with non-temporal stores).
  static constexpr bool streams_directly = true;
  template <int Bits, int GroupSize, class S, class O>
  static void dequantize_streaming(const std::uint32_t* wq, const S* scales, const S* biases, O* out,
                                   std::size_t groups) noexcept {
    run<Bits, GroupSize, true>(wq, scales, biases, out, groups);
  }

 private:
  // Groups are taken 8 at a time: their scales and biases are widened to float together. A group whose
  // scale or bias is not finite takes the scalar reference (it defines NaN payloads and inf * 0); batches
  // with none such run a loop without that call.
  template <int Bits, int GroupSize, bool Stream, class Rule, class O>
  static LOWBIT_ALWAYS_INLINE void batch(const std::uint8_t* codes, const float* scale, const float* bias, O* out,
                                         std::size_t n) noexcept {
    constexpr std::size_t bytes = format::words_per_group(Bits, GroupSize) * 4;
    for (std::size_t i = 0; i < n; ++i) {
      avx2::dequantize_group<Bits, GroupSize, Stream>(codes + i * bytes, Rule(scale[i], bias[i]), out + i * GroupSize);
    }
  }
  template <int Bits, int GroupSize, bool Stream, class S, class O>
  static void run(const std::uint32_t* wq, const S* scales, const S* biases, O* out, std::size_t groups) noexcept {
    constexpr std::size_t words = format::words_per_group(Bits, GroupSize);
    const auto* codes = reinterpret_cast<const std::uint8_t*>(wq);
    alignas(32) float scale[8], bias[8];
    for (std::size_t first = 0; first < groups; first += 8) {
      const std::size_t n = groups - first < 8 ? groups - first : 8;
      const unsigned finite = avx2::widen_batch(scales + first, n, scale) & avx2::widen_batch(biases + first, n, bias);
      if (finite == (1u << n) - 1) {  // no call in this loop: the constant vectors can stay in registers
        const std::uint8_t* batch_codes = codes + first * words * 4;
        O* batch_out = out + first * GroupSize;
        if constexpr (!std::is_same<S, float>::value) {  // lanes past n hold zeros, which qualify
          if (avx2::normal_products<Bits, S>(scale) == 0xffu) {
            batch<Bits, GroupSize, Stream, avx2::affine_rule<S, true>>(batch_codes, scale, bias, batch_out, n);
            continue;
          }
        }
        batch<Bits, GroupSize, Stream, avx2::affine_rule<S>>(batch_codes, scale, bias, batch_out, n);
        continue;
      }
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t g = first + i;
        if (((finite >> i) & 1u) != 0) {
          avx2::dequantize_group<Bits, GroupSize, Stream>(codes + g * words * 4, avx2::affine_rule<S>(scale[i], bias[i]),
                                                          out + g * GroupSize);
        } else {
          dequantize_special_group<Bits, GroupSize>(wq + g * words, scales + g, biases + g, out + g * GroupSize);
        }
      }
    }
  }
};

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_AVX2
