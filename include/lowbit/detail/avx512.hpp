// lowbit/detail/avx512.hpp — AVX-512 (F + BW) kernels; VBMI is used under its own guard.
//
// Per group, the 2^Bits possible outputs are computed once with the exact rule (numeric.hpp), in float
// lanes with the same IEEE operations as the scalar reference, and kept in one to four registers. Each
// element is then a table lookup: codes are unpacked into 32-bit lanes (float output, 16 per vector) or
// 16-bit lanes (2-byte output, 32 per vector) and used as permute indices. The rule is thus paid 2^Bits
// times per group instead of once per element, and the result is bit-identical by construction. For 7
// and 8 bits the tables would cost more than they save, so those values are computed per element with
// the same operations.
//
// Why each step is exact:
//   * s * q is one vmulps (correctly rounded); the add is a separate vaddps behind no_contract, so no
//     FMA can form, whatever -ffp-contract says.
//   * half rounding is vcvtps2ph with round-to-nearest-even; it matches lowbit::half bit for bit,
//     NaNs included (types_test checks it against F16C).
//   * bfloat16 rounding is done with integer operations identical to lowbit::bfloat16 (vcvtneps2bf16
//     would flush subnormals to zero).
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

// ---- constant index vectors ---------------------------------------------------------------------
// For 16 codes in 32-bit lanes: lane i takes the 16-bit words w and w+1 (w = i*Bits / 16) of the
// chunk and shifts right by (i*Bits) % 16, which brings the code to the lane's low bits.
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
// For 32 codes in 16-bit lanes: lane i takes bytes b and b+1 (b = i*Bits / 8) and shifts right by
// (i*Bits) % 8. Without VBMI the same window is assembled from 16-bit words: lane i takes word
// w = i*Bits / 16 shifted right by (i*Bits) % 16 and word w+1 shifted left by 16 - that.
template <int Bits>
constexpr std::array<std::uint8_t, 64> word_byte_windows() {
  std::array<std::uint8_t, 64> idx{};
  for (int i = 0; i < 32; ++i) {
    idx[2 * i] = static_cast<std::uint8_t>(i * Bits / 8);
    idx[2 * i + 1] = static_cast<std::uint8_t>(i * Bits / 8 + 1);
  }
  return idx;
}
template <int Bits>
constexpr std::array<std::uint16_t, 32> word_byte_shifts() {
  std::array<std::uint16_t, 32> s{};
  for (int i = 0; i < 32; ++i) s[i] = static_cast<std::uint16_t>(i * Bits % 8);
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

// How many of n consecutive codes one broadcast quadword serves: all of them if they fit in 64 bits, else
// each half (see broadcast_codes).
constexpr int codes_per_broadcast(int bits, int n) { return n * bits <= 64 ? n : n / 2; }

// For vpmultishiftqb: byte 4i of 32-bit lane i (or byte 2i of 16-bit lane i) selects the 8 bits at the
// code's bit offset within the 64 bits its lane's quadword was given (see codes_in_dwords/codes_in_words).
template <int Bits, int LaneBytes>
constexpr std::array<std::uint8_t, 64> multishift_offsets() {
  constexpr int n = 64 / LaneBytes;
  std::array<std::uint8_t, 64> idx{};
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < LaneBytes; ++k) {
      idx[LaneBytes * i + k] = static_cast<std::uint8_t>(Bits * (i % codes_per_broadcast(Bits, n)));
    }
  }
  return idx;
}

template <class T, std::size_t N>
LOWBIT_ALWAYS_INLINE __m512i load_constant(const std::array<T, N>& a) noexcept {
  static_assert(sizeof(T) * N == 64, "a constant vector is 64 bytes");
  return _mm512_loadu_si512(a.data());
}

// The chunk's bytes: 16 (for 16 codes) or 32 (for 32 codes) bytes from p. That may read past the chunk —
// into the next group, or into the padding the kernel adds after the last group (plain loads are much
// faster than masked ones on some cores).
LOWBIT_ALWAYS_INLINE __m512i load16(const std::uint8_t* p) noexcept {
  return _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
LOWBIT_ALWAYS_INLINE __m512i load32(const std::uint8_t* p) noexcept {
  return _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// The 64 bits at p in every quadword; if N codes do not fit in 64 bits, the upper four quadwords take
// the 64 bits starting at the second half's first code instead (N/2 codes are N/2*Bits/8 whole bytes).
template <int Bits, int N>
LOWBIT_ALWAYS_INLINE __m512i broadcast_codes(const std::uint8_t* p) noexcept {
  long long lo;
  std::memcpy(&lo, p, 8);
  if constexpr (codes_per_broadcast(Bits, N) == N) {
    return _mm512_set1_epi64(lo);
  } else {
    long long hi;
    std::memcpy(&hi, p + N / 2 * Bits / 8, 8);
    return _mm512_mask_set1_epi64(_mm512_set1_epi64(lo), 0xf0, hi);
  }
}

// ---- unpacking ----------------------------------------------------------------------------------
// 16 codes of a chunk starting at byte `p` into the low bits of 32-bit lanes (higher bits: garbage).
template <int Bits>
LOWBIT_ALWAYS_INLINE __m512i codes_in_dwords(const std::uint8_t* p) noexcept {
  if constexpr (Bits == 8) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else {
#if LOWBIT_AVX512_VBMI  // broadcast loads and one vpmultishiftqb: no cross-lane shuffle (measured 2-8% faster)
    static constexpr auto offsets = multishift_offsets<Bits, 4>();
    return _mm512_multishift_epi64_epi8(load_constant(offsets), broadcast_codes<Bits, 16>(p));
#else
    static constexpr auto windows = dword_windows<Bits>();
    static constexpr auto shifts = dword_shifts<Bits>();
    return _mm512_srlv_epi32(_mm512_permutexvar_epi16(load_constant(windows), load16(p)), load_constant(shifts));
#endif
  }
}

// 32 codes of a chunk starting at byte `p` into the low bits of 16-bit lanes (higher bits: garbage).
template <int Bits>
LOWBIT_ALWAYS_INLINE __m512i codes_in_words(const std::uint8_t* p) noexcept {
  if constexpr (Bits == 8) {
    return _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  } else {
#if LOWBIT_AVX512_VBMI
    if constexpr (Bits <= 4) {  // 16 codes fit in a quadword: as codes_in_dwords
      static constexpr auto offsets = multishift_offsets<Bits, 2>();
      return _mm512_multishift_epi64_epi8(load_constant(offsets), broadcast_codes<Bits, 32>(p));
    } else {
      static constexpr auto windows = word_byte_windows<Bits>();
      static constexpr auto shifts = word_byte_shifts<Bits>();
      return _mm512_srlv_epi16(_mm512_permutexvar_epi8(load_constant(windows), load32(p)), load_constant(shifts));
    }
#else
    const __m512i bytes = load32(p);
    static constexpr auto lo_words = word_words<Bits, 0>();
    static constexpr auto hi_words = word_words<Bits, 1>();
    static constexpr auto right = word_word_shifts<Bits, false>();
    static constexpr auto left = word_word_shifts<Bits, true>();
    const __m512i lo = _mm512_srlv_epi16(_mm512_permutexvar_epi16(load_constant(lo_words), bytes), load_constant(right));
    const __m512i hi = _mm512_sllv_epi16(_mm512_permutexvar_epi16(load_constant(hi_words), bytes), load_constant(left));
    return _mm512_or_si512(lo, hi);  // a left shift by 16 gives 0: codes within one word need no second
#endif
  }
}

// ---- the rule, 16 lanes at a time -------------------------------------------------------------------
LOWBIT_ALWAYS_INLINE __m256i half_bits(__m512 x) noexcept {
  return _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
// float -> bfloat16 bits, round to nearest even, as lowbit::bfloat16 does for every non-NaN value (the
// kernels only see finite scales and biases, so no NaN reaches here; infinities round to themselves).
LOWBIT_ALWAYS_INLINE __m256i bfloat16_bits(__m512 x) noexcept {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16));
}
LOWBIT_ALWAYS_INLINE __m512 widen_half(__m256i h) noexcept { return _mm512_cvtph_ps(h); }
LOWBIT_ALWAYS_INLINE __m512 widen_bfloat16(__m256i b) noexcept {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
}
LOWBIT_ALWAYS_INLINE __m512 round_to_half(__m512 x) noexcept { return widen_half(half_bits(x)); }
// The same rounding, kept in float lanes (no narrowing and widening shuffles): clear the low 16 bits.
LOWBIT_ALWAYS_INLINE __m512 round_to_bfloat16(__m512 x) noexcept {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  return _mm512_castsi512_ps(_mm512_and_si512(r, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
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
// for half and bfloat16.
template <class S>
struct affine_rule {
  __m512 scale, bias;
  LOWBIT_ALWAYS_INLINE affine_rule(float s, float b) noexcept : scale(_mm512_set1_ps(s)), bias(_mm512_set1_ps(b)) {}

  // The rule's first line, in float lanes holding values of S; for half the last rounding is returned as
  // bits, which spares a conversion when the output is half.
  LOWBIT_ALWAYS_INLINE __m512 sum(__m512 q) const noexcept {
    if constexpr (std::is_same<S, float>::value) {
      return _mm512_add_ps(no_contract(_mm512_mul_ps(scale, q)), bias);
    } else if constexpr (std::is_same<S, half>::value) {
      return _mm512_add_ps(round_to_half(_mm512_mul_ps(scale, q)), bias);  // s * q is exact in float
    } else {
      return _mm512_add_ps(round_to_bfloat16(_mm512_mul_ps(scale, q)), bias);
    }
  }

  template <class O>
  LOWBIT_ALWAYS_INLINE auto value(__m512 q) const noexcept {
    const __m512 x = sum(q);
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

// The 16 codes j .. j+15, as floats, for building tables: entry j holds the value of code j mod 2^Bits.
template <int Bits>
LOWBIT_ALWAYS_INLINE __m512 table_codes(int first) noexcept {
  const __m512i j = _mm512_add_epi32(_mm512_set1_epi32(first),
                                     _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  return _mm512_cvtepi32_ps(_mm512_and_si512(j, _mm512_set1_epi32(static_cast<int>(format::max_code(Bits)))));
}

LOWBIT_ALWAYS_INLINE __m512i join(__m256i lo, __m256i hi) noexcept {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// ---- per-group lookup: float output ----------------------------------------------------------------
// Bits <= 6: a table of the 2^Bits float values; 16 codes in 32-bit lanes index it.
template <int Bits>
struct float_table {
  static constexpr int registers = Bits <= 4 ? 1 : Bits == 5 ? 2 : 4;
  __m512 t[registers];
  template <class S>
  LOWBIT_ALWAYS_INLINE float_table(const affine_rule<S>& rule) noexcept {
    for (int r = 0; r < registers; ++r) t[r] = rule.template value<float>(table_codes<Bits>(16 * r));
  }
  LOWBIT_ALWAYS_INLINE __m512 lookup(__m512i codes) const noexcept {
    if constexpr (registers == 1) {
      return _mm512_permutexvar_ps(codes, t[0]);  // index bits 0..3
    } else if constexpr (registers == 2) {
      return _mm512_permutex2var_ps(t[0], codes, t[1]);  // index bits 0..4
    } else {
      const __m512 lo = _mm512_permutex2var_ps(t[0], codes, t[1]);
      const __m512 hi = _mm512_permutex2var_ps(t[2], codes, t[3]);
      return _mm512_mask_blend_ps(_mm512_test_epi32_mask(codes, _mm512_set1_epi32(32)), lo, hi);  // bit 5
    }
  }
};

// ---- per-group lookup: 2-byte output ---------------------------------------------------------------
// Bits <= 6: a table of the 2^Bits 16-bit values; 32 codes in 16-bit lanes index it.
template <int Bits, class O>
struct word_table {
  static constexpr int registers = Bits <= 5 ? 1 : 2;
  __m512i t[registers];
  template <class S>
  LOWBIT_ALWAYS_INLINE word_table(const affine_rule<S>& rule) noexcept {
    if constexpr (Bits <= 4) {  // 16 values, repeated to fill the 32 entries vpermw indexes
      const __m256i v = rule.template value<O>(table_codes<Bits>(0));
      t[0] = join(v, v);
    } else {
      for (int r = 0; r < registers; ++r) {
        t[r] = join(rule.template value<O>(table_codes<Bits>(32 * r)),
                    rule.template value<O>(table_codes<Bits>(32 * r + 16)));
      }
    }
  }
  LOWBIT_ALWAYS_INLINE __m512i lookup(__m512i codes) const noexcept {
    if constexpr (registers == 1) {
      return _mm512_permutexvar_epi16(codes, t[0]);  // index bits 0..4
    } else {
      return _mm512_permutex2var_epi16(t[0], codes, t[1]);  // index bits 0..5
    }
  }
};

// ---- one group ---------------------------------------------------------------------------------
template <int Bits, int GroupSize, class S, class O>
LOWBIT_ALWAYS_INLINE void dequantize_group(const std::uint8_t* codes, const affine_rule<S>& rule, O* out) noexcept {
  constexpr bool table = Bits <= 6;
  if constexpr (std::is_same<O, float>::value && table) {
    const float_table<Bits> lut(rule);
    LOWBIT_UNROLL
    for (int c = 0; c < GroupSize / 16; ++c) {
      _mm512_storeu_ps(out + 16 * c, lut.lookup(codes_in_dwords<Bits>(codes + c * 2 * Bits)));
    }
  } else if constexpr (table) {
    const word_table<Bits, O> lut(rule);
    LOWBIT_UNROLL
    for (int c = 0; c < GroupSize / 32; ++c) {
      _mm512_storeu_si512(out + 32 * c, lut.lookup(codes_in_words<Bits>(codes + c * 4 * Bits)));
    }
  } else {  // 7 and 8 bits: the rule per element
    const __m512i mask = _mm512_set1_epi32(static_cast<int>(format::max_code(Bits)));
    LOWBIT_UNROLL
    for (int c = 0; c < GroupSize / 16; ++c) {
      const __m512 q = _mm512_cvtepi32_ps(_mm512_and_si512(codes_in_dwords<Bits>(codes + c * 2 * Bits), mask));
      const auto v = rule.template value<O>(q);
      if constexpr (std::is_same<O, float>::value) {
        _mm512_storeu_ps(out + 16 * c, v);
      } else {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 16 * c), v);
      }
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
  // scale or bias is not finite takes the scalar reference (it defines NaN payloads and inf * 0).
  static constexpr std::size_t overread = 32;  // chunk loads may read this many bytes past the codes
  template <int Bits, int GroupSize, class S, class O>
  static void dequantize(const std::uint32_t* wq, const S* scales, const S* biases, O* out,
                         std::size_t groups) noexcept {
    constexpr std::size_t words = format::words_per_group(Bits, GroupSize);
    const auto* codes = reinterpret_cast<const std::uint8_t*>(wq);
    alignas(64) float scale[16], bias[16];
    for (std::size_t first = 0; first < groups; first += 16) {
      const std::size_t n = groups - first < 16 ? groups - first : 16;
      const unsigned finite = avx512::widen_batch(scales + first, n, scale) & avx512::widen_batch(biases + first, n, bias);
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t g = first + i;
        if (((finite >> i) & 1u) != 0) {
          avx512::dequantize_group<Bits, GroupSize>(codes + g * words * 4, avx512::affine_rule<S>(scale[i], bias[i]),
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

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // LOWBIT_HAVE_AVX512
