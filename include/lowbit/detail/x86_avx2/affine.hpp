// lowbit/detail/x86_avx2/affine.hpp — the affine mode on AVX2 + F16C.
//
// For bits <= 3 the group's 2^Bits outputs are computed once with the exact rule and looked up with vpermd,
// eight codes at a time in 32-bit lanes; for 4 bits with vpshufb in byte tables, 32 codes at a time (except
// float -> float, where the rule is as cheap as a second lookup); for more bits the rule is applied per
// element with the same operations (see "how a group's outputs are made" below). Why each step is exact is
// explained in x86_avx512/affine.hpp; the operations here are their 256-bit counterparts: vmulps, then vaddps behind
// no_contract (never an FMA), vcvtps2ph for half (round to nearest even, as lowbit::half), integer rounding
// for bfloat16; products of scales whose products are all normal in S are rounded by Veltkamp's split
// (see round_normal_product).
#ifndef LOWBIT_DETAIL_X86_AVX2_AFFINE_HPP
#define LOWBIT_DETAIL_X86_AVX2_AFFINE_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_AVX2

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../../format.hpp"
#include "../../types.hpp"
#include "../kernel_parts.hpp"
#include "ops.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace avx2 {

// The scales among 8 (as floats) whose every product s * q, q = 0 .. 2^Bits - 1, is zero or normal in S:
// round_normal_product rounds those.
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

// ---- how a group's outputs are made -------------------------------------------------------------------
// Chosen by measurement (bench/, 64x1024, the fastest of each):
//   * bits <= 3: a table of 8 entries, one vpermd per 8 outputs (faster than the rule per element);
//   * 4 bits, float -> float: per element: the rule costs a conversion, a multiply and an add, less than
//     the two 8-entry lookups and the blend a 16-entry table would take;
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
// against four vpermd, two blends and a pack for 32-bit table entries.
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
      // vcvtps2ph gives values 0-7 and 8-15 in two 128-bit registers: split them there (measured faster
      // than joining them first as above).
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


// The affine part of the kernel set (kernel_parts.hpp, batched_affine): groups in batches of 8.
struct batches {
  // One group of finite scale and bias.
  template <int Bits, int GroupSize, bool Stream, class Rule, class O>
  static LOWBIT_ALWAYS_INLINE void group(const std::uint8_t* codes, const Rule& rule, O* out) noexcept {
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
      // 8 in order takes a shift, a pack and a lane permute.
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

  // n groups of finite scales and biases; products rounded without conversions where every scale admits it.
  template <int Bits, int GroupSize, bool Stream, class S, class O>
  static LOWBIT_ALWAYS_INLINE void finite_batch(const std::uint8_t* codes, const float* scale, const float* bias,
                                                O* out, std::size_t n) noexcept {
    if constexpr (!std::is_same<S, float>::value) {  // lanes past n hold zeros, which qualify
      if (normal_products<Bits, S>(scale) == 0xffu) {
        using rule = affine_rule<S, true>;
        return batched_affine<batches, 8>::finite_groups<Bits, GroupSize, Stream, rule>(codes, scale, bias, out, n);
      }
    }
    batched_affine<batches, 8>::finite_groups<Bits, GroupSize, Stream, affine_rule<S>>(codes, scale, bias, out, n);
  }
  template <class S>
  static LOWBIT_ALWAYS_INLINE unsigned widen(const S* p, std::size_t n, float* to) noexcept {
    return widen_batch(p, n, to);
  }
  template <class S>
  using rule_type = affine_rule<S>;
};

}  // namespace avx2
}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_AVX2

#endif  // LOWBIT_DETAIL_X86_AVX2_AFFINE_HPP
