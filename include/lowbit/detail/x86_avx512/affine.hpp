// lowbit/detail/x86_avx512/affine.hpp — the affine mode on AVX-512 (F + BW; VBMI under its own guard).
//
// Per group, the 2^Bits possible outputs are computed once with the exact rule (numeric.hpp), in float
// lanes with the same IEEE operations as the scalar reference, and kept in one to four registers. Each
// element is then a table lookup: codes are unpacked into 32-bit lanes (float output, 16 per vector) or
// 16-bit lanes (2-byte output, 32 per vector) and used as permute indices. The rule is thus paid 2^Bits
// times per group instead of once per element, and the result is bit-identical by construction. Where
// the tables cost more than they save (7 and 8 bits; 6 bits with float output, whose table takes two
// two-register permutes and a blend per vector), values are computed per element with the same operations,
// or for 6 and 7 bits with an FMA that gives the same result where biased_products admits it.
//
// Why each step is exact:
//   * s * q is one vmulps (correctly rounded); the add is a separate vaddps behind no_contract, so no
//     FMA can form, whatever -ffp-contract says.
//   * the per-element rule may instead compute s * q as fma(s, 2^23 + q, -s * 2^23): the same exact value,
//     rounded once (see biased_products for when that holds).
//   * half rounding is vcvtps2ph with round-to-nearest-even; it matches lowbit::half bit for bit,
//     NaNs included (types_test checks it against F16C).
//   * bfloat16 rounding is done with integer operations identical to lowbit::bfloat16 (vcvtneps2bf16
//     would flush subnormals to zero).
//   * with half scales, s * q is rounded to half the same integer way when every product of the group
//     is zero or a normal half (normal_products decides per batch; backend_test checks every such product).
//   * Permute instructions use only the low index bits (4 for vpermps, 5 for vpermw, 6 for the two-table
//     forms), so bits of the next code left above a code are ignored; tables for fewer bits repeat
//     themselves so that the ignored bits cannot matter.
#ifndef LOWBIT_DETAIL_X86_AVX512_AFFINE_HPP
#define LOWBIT_DETAIL_X86_AVX512_AFFINE_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_AVX512

#include <immintrin.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../../format.hpp"
#include "../../types.hpp"
#include "../numeric.hpp"
#include "../kernel_parts.hpp"
#include "ops.hpp"

LOWBIT_AVX512_WARNINGS_OFF  // GCC bug 105593: see config.hpp

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace avx512 {

// ---- which groups take the fast roundings -------------------------------------------------------
// The groups among 16 scales (as floats) whose products s * q, q = 0 .. 2^Bits - 1, are all zero or of a
// normal half magnitude: s is zero, or |s| >= 2^-14 (so |s * q| >= 2^-14 for q >= 1) and
// |s| * (2^Bits - 1) <= 65504 (so no product rounds up to infinity).
template <int Bits>
LOWBIT_ALWAYS_INLINE __mmask16 normal_products(const float* scales) noexcept {
  const __m512 magnitude = _mm512_abs_ps(_mm512_load_ps(scales));
  const __mmask16 zero = _mm512_cmp_ps_mask(magnitude, _mm512_setzero_ps(), _CMP_EQ_OQ);
  const __mmask16 low = _mm512_cmp_ps_mask(magnitude, _mm512_set1_ps(0x1p-14f), _CMP_GE_OQ);
  const __mmask16 high = _mm512_cmp_ps_mask(magnitude, _mm512_set1_ps(65504.0f / static_cast<float>(format::max_code(Bits))),
                                            _CMP_LE_OQ);
  return static_cast<__mmask16>(zero | (low & high));
}
// The groups among 16 whose products s * q the per-element rule may compute from biased codes: the float
// with bits 0x4B000000 | q is 2^23 + q exactly, and fma(s, 2^23 + q, -s * 2^23) is s * q (exactly, before
// its one rounding) when -s * 2^23 is exact, i.e. |s| * 2^23 does not overflow: |s| < 2^100 is ample. With
// the mask the codes need anyway folded into the same vpternlogd, that replaces a conversion and a multiply
// by one FMA per 16 outputs (8-bit codes need no mask, so there it gains nothing and is not used). It can differ from vmulps only in the sign of an exact zero
// (s * 0 is -0 for a negative s, the FMA gives +0 when rounding to nearest); the bias added next erases
// that unless it is zero itself, so groups with a zero bias are refused.
LOWBIT_ALWAYS_INLINE __mmask16 biased_products(const float* scales, const float* biases) noexcept {
  const __m512 magnitude = _mm512_abs_ps(_mm512_load_ps(scales));
  const __mmask16 small = _mm512_cmp_ps_mask(magnitude, _mm512_set1_ps(0x1p100f), _CMP_LT_OQ);
  return static_cast<__mmask16>(small & _mm512_cmp_ps_mask(_mm512_load_ps(biases), _mm512_setzero_ps(), _CMP_NEQ_OQ));
}
// The float 2^23 + q from a code q in the low bits of a lane, with garbage above it.
template <int Bits>
LOWBIT_ALWAYS_INLINE __m512 biased_code(__m512i codes) noexcept {
  const __m512i exponent = _mm512_set1_epi32(0x4B000000);
  const __m512i mask = _mm512_set1_epi32(static_cast<int>(format::max_code(Bits)));
  return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(codes, mask, exponent, 0xea));  // (codes & mask) | exponent
}

// ---- the rule, 16 lanes at a time -------------------------------------------------------------------

// A group's scale and bias (finite, given as floats: exact for every S), broadcast; the rule applied to 16
// codes given as floats. value<O> returns O's representation: __m512 for float, __m256i of 16 x 16 bits
// for half and bfloat16. NormalProducts (S = half only): every s * q of the group is zero or a normal half
// magnitude (see normal_products), so its rounding to half can skip the conversions. BiasedCodes: every
// group admits computing s * q from biased codes (see biased_products); only the per-element rule uses it.
template <class S, bool NormalProducts = false, bool BiasedCodes = false>
struct affine_rule {
  static constexpr bool biased_codes = BiasedCodes;
  __m512 scale, bias;
  LOWBIT_ALWAYS_INLINE affine_rule(float s, float b) noexcept : scale(_mm512_set1_ps(s)), bias(_mm512_set1_ps(b)) {}

  // s * q, rounded to float (exact for half scales). no_contract: never fused with the add that follows.
  LOWBIT_ALWAYS_INLINE __m512 product(__m512 q) const noexcept { return no_contract(_mm512_mul_ps(scale, q)); }
  // The same from the floats 2^23 + q (biased_code), for groups that biased_products admits. The offset
  // -s * 2^23 is the same for the whole group; compilers compute it once.
  LOWBIT_ALWAYS_INLINE __m512 product_of_biased(__m512 biased) const noexcept {
    return _mm512_fmadd_ps(scale, biased, _mm512_mul_ps(scale, _mm512_set1_ps(-0x1p23f)));
  }

  // The rule's first line from the product, in float lanes holding values of S; for half the last rounding
  // is returned as bits, which spares a conversion when the output is half.
  LOWBIT_ALWAYS_INLINE __m512 sum(__m512 product) const noexcept {
    if constexpr (std::is_same<S, float>::value) {
      return _mm512_add_ps(product, bias);
    } else if constexpr (std::is_same<S, half>::value) {
      return _mm512_add_ps(NormalProducts ? round_normal_to_half(product) : round_to_half(product), bias);
    } else {
      return _mm512_add_ps(round_to_bfloat16(product), bias);
    }
  }

  template <class O>
  LOWBIT_ALWAYS_INLINE auto value(__m512 q) const noexcept { return value_of_product<O>(product(q)); }
  template <class O>
  LOWBIT_ALWAYS_INLINE auto value_of_product(__m512 product) const noexcept {
    const __m512 x = sum(product);
    if constexpr (std::is_same<S, float>::value) {  // x is the value; convert once
      if constexpr (std::is_same<O, float>::value) return x;
      else if constexpr (std::is_same<O, half>::value) return half_bits(x);
      else return bfloat16_bits(x);
    } else if constexpr (std::is_same<S, half>::value) {  // round the sum to half, then convert
      const __m256i h = half_bits(x);
      if constexpr (std::is_same<O, half>::value) return h;
      else if constexpr (std::is_same<O, float>::value) return widen_half(h);
      else return bfloat16_bits(widen_half(h));
    } else {
      if constexpr (std::is_same<O, bfloat16>::value) return bfloat16_bits(x);
      else if constexpr (std::is_same<O, float>::value) return round_to_bfloat16(x);
      else return half_bits(round_to_bfloat16(x));
    }
  }
};

// Codes as floats for building tables: entry j holds code j mod 2^Bits, so tables for fewer bits repeat.
template <int Bits>
constexpr std::array<float, 64> table_code_values() {
  std::array<float, 64> v{};
  for (int j = 0; j < 64; ++j) v[j] = static_cast<float>(j & static_cast<int>(format::max_code(Bits)));
  return v;
}
// The codes first .. first+15, as floats.
template <int Bits>
LOWBIT_ALWAYS_INLINE __m512 table_codes(int first) noexcept {
  static constexpr auto values = table_code_values<Bits>();
  return _mm512_loadu_ps(values.data() + first);
}

// ---- writers: a chunk of codes to outputs ---------------------------------------------------------
// Each writer is made once per group from its rule, and turns chunks of codes (in lanes of lane_bytes) into
// output vectors.

// Float output, Bits <= 5: a table of the 2^Bits float values; 16 codes in 32-bit lanes index it.
template <int Bits>
struct float_table {
  static_assert(Bits <= 5, "6-bit float output is computed per element (per_element)");
  static constexpr int lane_bytes = 4;
  // Values of codes 0-15 and 16-31 (the second only for 5 bits). Named members, not an array, so that
  // compilers keep them in registers (GCC kept an array on the stack).
  __m512 t0, t1;
  template <class Rule>
  LOWBIT_ALWAYS_INLINE explicit float_table(const Rule& rule) noexcept
      : t0(rule.template value<float>(table_codes<Bits>(0))),
        t1(Bits == 5 ? rule.template value<float>(table_codes<Bits>(16)) : t0) {}
  LOWBIT_ALWAYS_INLINE __m512 lookup(__m512i codes) const noexcept {
    if constexpr (Bits <= 4) {
      return _mm512_permutexvar_ps(codes, t0);  // index bits 0..3
    } else {
      return _mm512_permutex2var_ps(t0, codes, t1);  // index bits 0..4
    }
  }
  template <bool Stream>
  LOWBIT_ALWAYS_INLINE void write(__m512i codes, float* out) const noexcept { store<Stream>(out, lookup(codes)); }
};

// 2-byte output, Bits <= 6: a table of the 2^Bits 16-bit values; 32 codes in 16-bit lanes index it.
template <int Bits, class O>
struct word_table {
  static constexpr int lane_bytes = 2;
  __m512i t0, t1;  // values of codes 0-31 and 32-63 (t1 only for 6 bits); named members, as in float_table
  template <class Rule>
  LOWBIT_ALWAYS_INLINE explicit word_table(const Rule& rule) noexcept
      : t0(values(rule, 0)), t1(Bits == 6 ? values(rule, 32) : t0) {}
  template <class Rule>
  static LOWBIT_ALWAYS_INLINE __m512i values(const Rule& rule, int first) noexcept {
    const __m256i lo = rule.template value<O>(table_codes<Bits>(first));
    if constexpr (Bits <= 4) return join(lo, lo);  // 16 values, repeated to fill the 32 entries vpermw indexes
    else return join(lo, rule.template value<O>(table_codes<Bits>(first + 16)));
  }
  LOWBIT_ALWAYS_INLINE __m512i lookup(__m512i codes) const noexcept {
    if constexpr (Bits <= 5) {
      return _mm512_permutexvar_epi16(codes, t0);  // index bits 0..4
    } else {
      return _mm512_permutex2var_epi16(t0, codes, t1);  // index bits 0..5
    }
  }
  template <bool Stream>
  LOWBIT_ALWAYS_INLINE void write(__m512i codes, O* out) const noexcept { store<Stream>(out, lookup(codes)); }
};

// 7 and 8 bits, and 6 with float output: tables would cost more than they save, so the rule is applied per
// element (16 codes in 32-bit lanes), with the same operations, or with s * q from biased codes where the
// rule admits it.
template <int Bits, class O>
constexpr bool per_element = Bits > 6 || (Bits == 6 && std::is_same<O, float>::value);
template <int Bits, class O>
constexpr bool products_from_biased_codes = per_element<Bits, O> && Bits < 8;

template <int Bits, class Rule, class O>
struct element_rule {
  static constexpr int lane_bytes = 4;
  Rule rule;
  LOWBIT_ALWAYS_INLINE explicit element_rule(const Rule& r) noexcept : rule(r) {}
  template <bool Stream>
  LOWBIT_ALWAYS_INLINE void write(__m512i codes, O* out) const noexcept {
    if constexpr (Rule::biased_codes) {
      store<Stream>(out, rule.template value_of_product<O>(rule.product_of_biased(biased_code<Bits>(codes))));
    } else {
      const __m512i mask = _mm512_set1_epi32(static_cast<int>(format::max_code(Bits)));
      const __m512i q = Bits == 8 ? codes : _mm512_and_si512(codes, mask);  // 8-bit codes come without garbage
      store<Stream>(out, rule.template value<O>(_mm512_cvtepi32_ps(q)));
    }
  }
};

template <int Bits, class Rule, class O>
using group_writer = std::conditional_t<per_element<Bits, O>, element_rule<Bits, Rule, O>,
                                        std::conditional_t<std::is_same<O, float>::value, float_table<Bits>,
                                                           word_table<Bits, O>>>;


// The affine part of the kernel set (kernel_parts.hpp, batched_affine): groups in batches of 16.
struct batches {
  // One group of finite scale and bias.
  template <int Bits, int GroupSize, bool Stream, class Rule, class O>
  static LOWBIT_ALWAYS_INLINE void group(const std::uint8_t* codes, const Rule& rule, O* out) noexcept {
    using writer_type = group_writer<Bits, Rule, O>;
    using geometry = chunk_geometry<Bits, writer_type::lane_bytes>;
    constexpr int chunks = GroupSize / geometry::codes_per_chunk;
    constexpr int span = geometry::chunks_per_gather < chunks ? geometry::chunks_per_gather : chunks;
    static_assert(chunks % span == 0, "spans tile the group");
    const writer_type writer(rule);
    LOWBIT_UNROLL
    for (int first = 0; first < chunks; first += span) {
      const chunk_span<Bits, writer_type::lane_bytes, span> unpacked(codes + first * geometry::chunk_bytes);
      LOWBIT_UNROLL
      for (int c = 0; c < span; ++c) {
        writer.template write<Stream>(unpacked.codes(c), out + (first + c) * geometry::codes_per_chunk);
      }
    }
  }

  // n groups of finite scales and biases: the rule's fast paths that all of them admit, chosen once.
  template <int Bits, int GroupSize, bool Stream, class S, class O>
  static LOWBIT_ALWAYS_INLINE void finite_batch(const std::uint8_t* codes, const float* scale, const float* bias,
                                                O* out, std::size_t n) noexcept {
    if constexpr (std::is_same<S, half>::value) {  // lanes past n hold zeros, which qualify
      if (normal_products<Bits>(scale) == 0xffff) {
        return with_biased_codes<Bits, GroupSize, Stream, S, true>(codes, scale, bias, out, n);
      }
    }
    with_biased_codes<Bits, GroupSize, Stream, S, false>(codes, scale, bias, out, n);
  }
  template <class S>
  static LOWBIT_ALWAYS_INLINE unsigned widen(const S* p, std::size_t n, float* to) noexcept {
    return widen_batch(p, n, to);
  }
  template <class S>
  using rule_type = affine_rule<S>;

 private:
  template <int Bits, int GroupSize, bool Stream, class S, bool NormalProducts, class O>
  static LOWBIT_ALWAYS_INLINE void with_biased_codes(const std::uint8_t* codes, const float* scale, const float* bias,
                                                     O* out, std::size_t n) noexcept {
    if constexpr (products_from_biased_codes<Bits, O>) {
      const unsigned all = (1u << n) - 1;  // lanes past n hold zero biases, which do not qualify
      if ((biased_products(scale, bias) & all) == all) {
        using rule = affine_rule<S, NormalProducts, true>;
        return batched_affine<batches, 16>::finite_groups<Bits, GroupSize, Stream, rule>(codes, scale, bias, out, n);
      }
    }
    using rule = affine_rule<S, NormalProducts>;
    batched_affine<batches, 16>::finite_groups<Bits, GroupSize, Stream, rule>(codes, scale, bias, out, n);
  }
};

}  // namespace avx512
}  // namespace detail
LOWBIT_END_NAMESPACE

LOWBIT_AVX512_WARNINGS_ON

#endif  // LOWBIT_HAVE_AVX512

#endif  // LOWBIT_DETAIL_X86_AVX512_AFFINE_HPP
