// lowbit/detail/avx512.hpp — AVX-512 (F + BW) kernels; VBMI is used under its own guard.
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
#pragma once

#include "../config.hpp"

#if LOWBIT_HAVE_AVX512

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

// GCC 12's AVX-512 intrinsics fill unused operands with _mm512_undefined_*(), which it then reports
// as "may be used uninitialized" inside the intrinsic headers (GCC bug 105593). Nothing is uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

LOWBIT_BEGIN_NAMESPACE
namespace detail {
namespace avx512 {

template <class T, std::size_t N>
LOWBIT_ALWAYS_INLINE __m512i load_constant(const std::array<T, N>& a) noexcept {
  static_assert(sizeof(T) * N == 64, "a constant vector is 64 bytes");
  return _mm512_loadu_si512(a.data());
}

// 16 or 32 bytes from p, in the low lanes (the rest undefined and never used). Plain loads that may read
// past the codes, into the next group or the padding the driver adds after the last group: much faster
// than masked loads on some cores.
LOWBIT_ALWAYS_INLINE __m512i load16(const std::uint8_t* p) noexcept {
  return _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
LOWBIT_ALWAYS_INLINE __m512i load32(const std::uint8_t* p) noexcept {
  return _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// ---- unpacking: codes into lanes ----------------------------------------------------------------
// A chunk is the codes one output vector takes: 16 in 32-bit lanes (float output, and the per-element rule)
// or 32 in 16-bit lanes (2-byte output). Codes land in the low bits of their lane; the bits above them are
// garbage, which the lookups ignore (see the top of this file) and the per-element rule masks off.
//
// chunk_span<Bits, LaneBytes, Chunks> (chosen at the end of this section) unpacks `Chunks` consecutive
// chunks starting at a byte; codes(c) is chunk c. It may read up to 32 bytes past the span.
template <int Bits, int LaneBytes>
struct chunk_geometry {
  static constexpr int codes_per_chunk = 64 / LaneBytes;
  static constexpr int chunk_bytes = codes_per_chunk * Bits / 8;
  static constexpr int codes_per_quadword = 8 / LaneBytes;
  // The first byte holding quadword m's codes, within their chunk.
  static constexpr int first_byte(int m) { return codes_per_quadword * m * Bits / 8; }
  // How many bytes from first_byte(m) hold quadword m's codes, at most over m.
  static constexpr int slice_bytes() {
    int most = 0;
    for (int m = 0; m < 8; ++m) {
      const int bits = codes_per_quadword * m * Bits % 8 + codes_per_quadword * Bits;
      most = (bits + 7) / 8 > most ? (bits + 7) / 8 : most;
    }
    return most;
  }
  static constexpr int chunks_per_gather = 8 / slice_bytes();
};

#if LOWBIT_AVX512_VBMI
// With VBMI, vpmultishiftqb brings every lane's code, from a known bit offset within the lane's quadword,
// to the lane's low byte: one instruction per chunk, with no cross-lane shuffle and no variable shift. The
// quadwords get their codes in one of two ways:
//   * a chunk whose codes fit in 8 bytes (16 codes of up to 4 bits, 32 of up to 2) is a broadcast load;
//   * otherwise one vpermb gathers into each quadword m the slice of bytes that quadword m of each of
//     several chunks needs (2 or 3 bytes per chunk), side by side, so one shuffle serves up to 4 chunks.
// Measured on Zen 4 (64x1024, output aligned): 5-bit half 5.7 -> 4.8 ns per group, 6-bit half 9.7 -> 8.3,
// against one permute and a variable shift per chunk.
template <int Bits, int LaneBytes, int Chunks>
constexpr std::array<std::uint8_t, 64> gather_indices() {
  using geometry = chunk_geometry<Bits, LaneBytes>;
  constexpr int slice = geometry::slice_bytes();
  constexpr int used = Chunks * geometry::chunk_bytes;
  std::array<std::uint8_t, 64> idx{};
  for (int m = 0; m < 8; ++m) {
    for (int c = 0; c < Chunks; ++c) {
      for (int j = 0; j < slice; ++j) {
        const int from = c * geometry::chunk_bytes + geometry::first_byte(m) + j;
        idx[8 * m + slice * c + j] = static_cast<std::uint8_t>(from < used ? from : 0);  // past the codes: unused
      }
    }
  }
  return idx;
}
// Bit offsets for vpmultishiftqb: every byte of lane i takes the 8 bits where chunk c's code i starts.
template <int Bits, int LaneBytes, int Chunks>
constexpr std::array<std::array<std::uint8_t, 64>, Chunks> code_offsets() {
  using geometry = chunk_geometry<Bits, LaneBytes>;
  std::array<std::array<std::uint8_t, 64>, Chunks> offsets{};
  for (int c = 0; c < Chunks; ++c) {
    for (int i = 0; i < geometry::codes_per_chunk; ++i) {
      const int m = i / geometry::codes_per_quadword;
      const int bit = 8 * geometry::slice_bytes() * c + i * Bits - 8 * geometry::first_byte(m);
      for (int k = 0; k < LaneBytes; ++k) offsets[c][LaneBytes * i + k] = static_cast<std::uint8_t>(bit);
    }
  }
  return offsets;
}

template <int Bits, int LaneBytes>
constexpr std::array<std::uint8_t, 64> broadcast_offsets() {
  std::array<std::uint8_t, 64> offsets{};
  for (int i = 0; i < 64 / LaneBytes; ++i) {
    for (int k = 0; k < LaneBytes; ++k) offsets[LaneBytes * i + k] = static_cast<std::uint8_t>(i * Bits);
  }
  return offsets;
}

// A chunk whose codes fit in 8 bytes: each chunk is a broadcast load.
template <int Bits, int LaneBytes, int Chunks>
struct broadcast_span {
  static constexpr int chunk_bytes = chunk_geometry<Bits, LaneBytes>::chunk_bytes;
  const std::uint8_t* p;
  LOWBIT_ALWAYS_INLINE explicit broadcast_span(const std::uint8_t* first) noexcept : p(first) {}
  LOWBIT_ALWAYS_INLINE __m512i codes(int c) const noexcept {
    static constexpr auto offsets = broadcast_offsets<Bits, LaneBytes>();
    long long q;
    std::memcpy(&q, p + c * chunk_bytes, 8);
    return _mm512_multishift_epi64_epi8(load_constant(offsets), _mm512_set1_epi64(q));
  }
};
// Wider chunks: one vpermb gathers the slices of all `Chunks` chunks.
template <int Bits, int LaneBytes, int Chunks>
struct gather_span {
  static_assert(Chunks <= chunk_geometry<Bits, LaneBytes>::chunks_per_gather, "one gather serves the span");
  static constexpr int bytes = Chunks * chunk_geometry<Bits, LaneBytes>::chunk_bytes;
  __m512i gathered;
  LOWBIT_ALWAYS_INLINE explicit gather_span(const std::uint8_t* first) noexcept {
    static constexpr auto indices = gather_indices<Bits, LaneBytes, Chunks>();
    if constexpr (bytes <= 32) {  // the indices stay below `bytes`: the undefined upper half is never read
      gathered = _mm512_permutexvar_epi8(load_constant(indices), load32(first));
    } else {
      gathered = _mm512_permutexvar_epi8(load_constant(indices), _mm512_loadu_si512(first));
    }
  }
  LOWBIT_ALWAYS_INLINE __m512i codes(int c) const noexcept {
    static constexpr auto offsets = code_offsets<Bits, LaneBytes, Chunks>();
    return _mm512_multishift_epi64_epi8(load_constant(offsets[c]), gathered);
  }
};
#else
// Without VBMI, chunk by chunk. 32-bit lanes: lane i takes the 16-bit words w and w+1 (w = i*Bits / 16) of
// the chunk and shifts right by (i*Bits) % 16. 16-bit lanes: lane i takes word w = i*Bits / 16 shifted
// right by (i*Bits) % 16 and word w+1 shifted left by 16 - that.
template <int Bits>
constexpr std::array<std::uint16_t, 32> dword_windows() {
  std::array<std::uint16_t, 32> idx{};
  for (int i = 0; i < 16; ++i) {
    idx[2 * i] = static_cast<std::uint16_t>(i * Bits / 16);
    idx[2 * i + 1] = static_cast<std::uint16_t>(i * Bits / 16 + 1);
  }
  return idx;
}
template <int Bits>
constexpr std::array<std::uint32_t, 16> dword_shifts() {
  std::array<std::uint32_t, 16> s{};
  for (int i = 0; i < 16; ++i) s[i] = static_cast<std::uint32_t>(i * Bits % 16);
  return s;
}
template <int Bits, int Next>
constexpr std::array<std::uint16_t, 32> word_words() {
  std::array<std::uint16_t, 32> idx{};
  for (int i = 0; i < 32; ++i) idx[i] = static_cast<std::uint16_t>(i * Bits / 16 + Next);
  return idx;
}
template <int Bits, bool Left>
constexpr std::array<std::uint16_t, 32> word_word_shifts() {
  std::array<std::uint16_t, 32> s{};
  for (int i = 0; i < 32; ++i) s[i] = static_cast<std::uint16_t>(Left ? 16 - i * Bits % 16 : i * Bits % 16);
  return s;
}

template <int Bits, int LaneBytes, int Chunks>
struct window_span {
  const std::uint8_t* p;
  LOWBIT_ALWAYS_INLINE explicit window_span(const std::uint8_t* first) noexcept : p(first) {}
  LOWBIT_ALWAYS_INLINE __m512i codes(int c) const noexcept {
    const std::uint8_t* chunk = p + c * chunk_geometry<Bits, LaneBytes>::chunk_bytes;
    if constexpr (LaneBytes == 4) {
      static constexpr auto windows = dword_windows<Bits>();
      static constexpr auto shifts = dword_shifts<Bits>();
      return _mm512_srlv_epi32(_mm512_permutexvar_epi16(load_constant(windows), load16(chunk)), load_constant(shifts));
    } else {
      const __m512i bytes = load32(chunk);
      static constexpr auto lo_words = word_words<Bits, 0>();
      static constexpr auto hi_words = word_words<Bits, 1>();
      static constexpr auto right = word_word_shifts<Bits, false>();
      static constexpr auto left = word_word_shifts<Bits, true>();
      const __m512i lo = _mm512_srlv_epi16(_mm512_permutexvar_epi16(load_constant(lo_words), bytes),
                                           load_constant(right));
      const __m512i hi = _mm512_sllv_epi16(_mm512_permutexvar_epi16(load_constant(hi_words), bytes),
                                           load_constant(left));
      return _mm512_or_si512(lo, hi);  // a left shift by 16 gives 0: codes within one word need no second
    }
  }
};
#endif
// 8-bit codes in 32-bit lanes are bytes zero-extended, with no garbage above them (element_rule relies on it).
// Measured on Zen 4 (8-bit float, 64x1024): 3.95 -> 3.42 ns per group against the gather and
// multishift, which also need a mask.
template <int Chunks>
struct byte_span {
  const std::uint8_t* p;
  LOWBIT_ALWAYS_INLINE explicit byte_span(const std::uint8_t* first) noexcept : p(first) {}
  LOWBIT_ALWAYS_INLINE __m512i codes(int c) const noexcept {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * c)));
  }
};

template <int Bits, int LaneBytes, int Chunks>
using chunk_span = std::conditional_t<
    Bits == 8 && LaneBytes == 4, byte_span<Chunks>,
#if LOWBIT_AVX512_VBMI
    std::conditional_t<(chunk_geometry<Bits, LaneBytes>::chunk_bytes <= 8), broadcast_span<Bits, LaneBytes, Chunks>,
                       gather_span<Bits, LaneBytes, Chunks>>
#else
    window_span<Bits, LaneBytes, Chunks>
#endif
    >;

// ---- the rule, 16 lanes at a time -------------------------------------------------------------------
LOWBIT_ALWAYS_INLINE __m256i half_bits(__m512 x) noexcept {
  return _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
// x's bits plus the increment that rounds them to nearest even at bit Dropped: the high 32 - Dropped bits
// are then x rounded to Dropped fewer fraction bits (a carry into the exponent is the right result), the
// low ones garbage. The kernels only see finite scales and biases, so no NaN reaches here; infinities
// round to themselves.
template <int Dropped>
LOWBIT_ALWAYS_INLINE __m512i rounded_bits(__m512 x) noexcept {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, Dropped), _mm512_set1_epi32(1));
  return _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32((1 << (Dropped - 1)) - 1)));
}
// float -> bfloat16 bits, round to nearest even, as lowbit::bfloat16 does for every non-NaN value.
LOWBIT_ALWAYS_INLINE __m256i bfloat16_bits(__m512 x) noexcept {
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(rounded_bits<16>(x), 16));
}
LOWBIT_ALWAYS_INLINE __m512 widen_half(__m256i h) noexcept { return _mm512_cvtph_ps(h); }
LOWBIT_ALWAYS_INLINE __m512 widen_bfloat16(__m256i b) noexcept {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
}
LOWBIT_ALWAYS_INLINE __m512 round_to_half(__m512 x) noexcept { return widen_half(half_bits(x)); }
// The same for lanes that are zero or whose magnitude is in half's normal range [2^-14, 65504] after
// rounding: there a half keeps the top 10 of float's 23 fraction bits, so rounding to nearest even is
// integer arithmetic on the bits, as for bfloat16.
// Four integer operations that run on every vector pipe, instead of two conversions that do not (Zen 4:
// 4-bit half->half, 64x1024, 3.2 -> 2.6 ns per group). tests/backend_test.cpp checks it against
// vcvtps2ph for every product of a half scale and a code that normal_products admits.
LOWBIT_ALWAYS_INLINE __m512 round_normal_to_half(__m512 x) noexcept {
  return _mm512_castsi512_ps(_mm512_and_si512(rounded_bits<13>(x), _mm512_set1_epi32(static_cast<int>(0xffffe000u))));
}
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
// by one FMA per 16 outputs (Zen 4, 64x1024, 6-bit float: 3.95 -> 3.47 ns per group; 8-bit codes need no
// mask, so there it gains nothing and is not used). It can differ from vmulps only in the sign of an exact zero
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

// The same rounding, kept in float lanes (no narrowing and widening shuffles): clear the low 16 bits.
LOWBIT_ALWAYS_INLINE __m512 round_to_bfloat16(__m512 x) noexcept {
  return _mm512_castsi512_ps(_mm512_and_si512(rounded_bits<16>(x), _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
}

// Up to 16 scales (or biases) of S as floats, into `to`; returns the mask of those that are finite.
LOWBIT_ALWAYS_INLINE __m512 load_floats(const float* p, __mmask16 m) noexcept { return _mm512_maskz_loadu_ps(m, p); }
LOWBIT_ALWAYS_INLINE __m256i load_words(const void* p, __mmask16 m) noexcept {  // AVX512BW without VL
  return _mm512_castsi512_si256(_mm512_maskz_loadu_epi16(static_cast<__mmask32>(m), p));
}
LOWBIT_ALWAYS_INLINE __m512 load_floats(const half* p, __mmask16 m) noexcept { return widen_half(load_words(p, m)); }
LOWBIT_ALWAYS_INLINE __m512 load_floats(const bfloat16* p, __mmask16 m) noexcept {
  return widen_bfloat16(load_words(p, m));
}
template <class S>
LOWBIT_ALWAYS_INLINE __mmask16 widen_batch(const S* p, std::size_t n, float* to) noexcept {
  const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
  const __m512 x = load_floats(p, m);
  _mm512_store_ps(to, x);
  const __m512 magnitude = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)));
  return _mm512_mask_cmp_ps_mask(m, magnitude, _mm512_set1_ps(std::numeric_limits<float>::infinity()), _CMP_LT_OQ);
}

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

LOWBIT_ALWAYS_INLINE __m512i join(__m256i lo, __m256i hi) noexcept {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// ---- stores ---------------------------------------------------------------------------------------
// Regular, or non-temporal (Stream: the output is 64-byte aligned and each group's output whole lines, so
// every 64-byte store is one whole line, and two 32-byte ones fill a line back to back).
template <bool Stream>
LOWBIT_ALWAYS_INLINE void store(float* p, __m512 v) noexcept {
  if constexpr (Stream) _mm512_stream_ps(p, v);
  else _mm512_storeu_ps(p, v);
}
template <bool Stream, class O>
LOWBIT_ALWAYS_INLINE void store(O* p, __m512i v) noexcept {
  if constexpr (Stream) _mm512_stream_si512(reinterpret_cast<__m512i*>(p), v);
  else _mm512_storeu_si512(p, v);
}
template <bool Stream, class O>
LOWBIT_ALWAYS_INLINE void store(O* p, __m256i v) noexcept {
  if constexpr (Stream) _mm256_stream_si256(reinterpret_cast<__m256i*>(p), v);
  else _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
}

// ---- writers: a chunk of codes to outputs ---------------------------------------------------------
// Each writer is made once per group from its rule, and turns chunks of codes (in lanes of lane_bytes) into
// output vectors.

// Float output, Bits <= 6: a table of the 2^Bits float values; 16 codes in 32-bit lanes index it.
template <int Bits>
struct float_table {
  static constexpr int lane_bytes = 4;
  // Values of codes 0-15, 16-31, 32-47, 48-63; those Bits does not use are never computed. Named members,
  // not an array, so that compilers keep them in registers (GCC kept an array on the stack).
  __m512 t0, t1, t2, t3;
  template <class Rule>
  LOWBIT_ALWAYS_INLINE explicit float_table(const Rule& rule) noexcept
      : t0(rule.template value<float>(table_codes<Bits>(0))),
        t1(Bits >= 5 ? rule.template value<float>(table_codes<Bits>(16)) : t0),
        t2(Bits >= 6 ? rule.template value<float>(table_codes<Bits>(32)) : t0),
        t3(Bits >= 6 ? rule.template value<float>(table_codes<Bits>(48)) : t0) {}
  LOWBIT_ALWAYS_INLINE __m512 lookup(__m512i codes) const noexcept {
    if constexpr (Bits <= 4) {
      return _mm512_permutexvar_ps(codes, t0);  // index bits 0..3
    } else if constexpr (Bits == 5) {
      return _mm512_permutex2var_ps(t0, codes, t1);  // index bits 0..4
    } else {
      const __m512 lo = _mm512_permutex2var_ps(t0, codes, t1);
      const __m512 hi = _mm512_permutex2var_ps(t2, codes, t3);
      return _mm512_mask_blend_ps(_mm512_test_epi32_mask(codes, _mm512_set1_epi32(32)), lo, hi);  // bit 5
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

// ---- one group ---------------------------------------------------------------------------------
template <int Bits, int GroupSize, bool Stream, class Rule, class O>
LOWBIT_ALWAYS_INLINE void dequantize_group(const std::uint8_t* codes, const Rule& rule, O* out) noexcept {
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

}  // namespace avx512

struct avx512_kernels {
#if LOWBIT_AVX512_VBMI
  static constexpr const char* name = "avx512-vbmi";
#else
  static constexpr const char* name = "avx512";
#endif
  static constexpr bool has_streaming_stores = true;
  static void stream_lines(void* dst, const void* src, std::size_t bytes) noexcept { detail::stream_lines(dst, src, bytes); }
  static void stream_fence() noexcept { detail::stream_fence(); }

  // Groups are taken 16 at a time: their scales and biases are widened to float together. A group whose
  // scale or bias is not finite takes the scalar reference (it defines NaN payloads and inf * 0). Batches
  // with none such run a loop without that call, so the constant vectors can stay in registers.
  static constexpr std::size_t overread = 32;  // chunk loads may read this many bytes past the codes
  template <int Bits, int GroupSize, class S, class O>
  static void dequantize(const std::uint32_t* wq, const S* scales, const S* biases, O* out,
                         std::size_t groups) noexcept {
    run<Bits, GroupSize, false>(wq, scales, biases, out, groups);
  }
  // The same with non-temporal stores straight from the kernel: out must be 64-byte aligned.
  static constexpr bool streams_directly = true;
  template <int Bits, int GroupSize, class S, class O>
  static void dequantize_streaming(const std::uint32_t* wq, const S* scales, const S* biases, O* out,
                                   std::size_t groups) noexcept {
    run<Bits, GroupSize, true>(wq, scales, biases, out, groups);
  }

 private:
  // n groups of finite scales and biases, with one rule type for all (so the loop has no call and no branch).
  template <int Bits, int GroupSize, bool Stream, class Rule, class O>
  static LOWBIT_ALWAYS_INLINE void batch(const std::uint8_t* codes, const float* scale, const float* bias, O* out,
                                         std::size_t n) noexcept {
    constexpr std::size_t bytes = format::words_per_group(Bits, GroupSize) * 4;
    for (std::size_t i = 0; i < n; ++i) {
      avx512::dequantize_group<Bits, GroupSize, Stream>(codes + i * bytes, Rule(scale[i], bias[i]), out + i * GroupSize);
    }
  }

  // n groups of finite scales and biases: the rule's fast paths that all of them admit, chosen once.
  template <int Bits, int GroupSize, bool Stream, class S, class O>
  static LOWBIT_ALWAYS_INLINE void finite_batch(const std::uint8_t* codes, const float* scale, const float* bias,
                                                O* out, std::size_t n) noexcept {
    if constexpr (std::is_same<S, half>::value) {  // lanes past n hold zeros, which qualify
      if (avx512::normal_products<Bits>(scale) == 0xffff) {
        return with_biased_codes<Bits, GroupSize, Stream, S, true>(codes, scale, bias, out, n);
      }
    }
    with_biased_codes<Bits, GroupSize, Stream, S, false>(codes, scale, bias, out, n);
  }
  template <int Bits, int GroupSize, bool Stream, class S, bool NormalProducts, class O>
  static LOWBIT_ALWAYS_INLINE void with_biased_codes(const std::uint8_t* codes, const float* scale, const float* bias,
                                                     O* out, std::size_t n) noexcept {
    if constexpr (avx512::products_from_biased_codes<Bits, O>) {
      const unsigned all = (1u << n) - 1;  // lanes past n hold zero biases, which do not qualify
      if ((avx512::biased_products(scale, bias) & all) == all) {
        return batch<Bits, GroupSize, Stream, avx512::affine_rule<S, NormalProducts, true>>(codes, scale, bias, out, n);
      }
    }
    batch<Bits, GroupSize, Stream, avx512::affine_rule<S, NormalProducts>>(codes, scale, bias, out, n);
  }

  template <int Bits, int GroupSize, bool Stream, class S, class O>
  static void run(const std::uint32_t* wq, const S* scales, const S* biases, O* out, std::size_t groups) noexcept {
    constexpr std::size_t words = format::words_per_group(Bits, GroupSize);
    const auto* codes = reinterpret_cast<const std::uint8_t*>(wq);
    alignas(64) float scale[16], bias[16];
    for (std::size_t first = 0; first < groups; first += 16) {
      const std::size_t n = groups - first < 16 ? groups - first : 16;
      const unsigned finite = avx512::widen_batch(scales + first, n, scale) & avx512::widen_batch(biases + first, n, bias);
      if (finite == (1u << n) - 1) {
        finite_batch<Bits, GroupSize, Stream, S>(codes + first * words * 4, scale, bias, out + first * GroupSize, n);
        continue;
      }
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t g = first + i;
        if (((finite >> i) & 1u) != 0) {
          avx512::dequantize_group<Bits, GroupSize, Stream>(
              codes + g * words * 4, avx512::affine_rule<S>(scale[i], bias[i]), out + g * GroupSize);
        } else {
          dequantize_special_group<Bits, GroupSize>(wq + g * words, scales + g, biases + g, out + g * GroupSize);
        }
      }
    }
  }
};

}  // namespace detail
LOWBIT_END_NAMESPACE

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // LOWBIT_HAVE_AVX512
