// lowbit/detail/x86_avx512/ops.hpp — the AVX-512 (F + BW; VBMI under its own guard) primitives every kernel
// is built from: constants and code unpacking into lanes, exact conversions and roundings to half and
// bfloat16, widening loads of scales with their finiteness, and regular or non-temporal stores.
#ifndef LOWBIT_DETAIL_X86_AVX512_OPS_HPP
#define LOWBIT_DETAIL_X86_AVX512_OPS_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_AVX512

#include <immintrin.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "../../format.hpp"
#include "../../types.hpp"

LOWBIT_AVX512_WARNINGS_OFF  // GCC bug 105593: see config.hpp

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
// 8-bit codes in 32-bit lanes are bytes zero-extended, with no garbage above them (element_rule relies on it):
// faster than the gather and multishift, which would also need a mask.
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

// mxfp8 (E4M3) codes as binary16 bits: the low seven bits shifted left by 7 are a half whose value times 256
// is the magnitude.
// 32 E4M3 bytes -> binary16 bits (sign to bit 15, the low seven bits to bits 7..13): (b << 8) shifted right
// arithmetically by one puts the sign in bits 15 and 14; clearing bit 14 leaves the half.
LOWBIT_ALWAYS_INLINE __m512i e4m3_as_half_bits(const std::uint8_t* p) noexcept {
  const __m512i w = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_and_si512(_mm512_srai_epi16(_mm512_slli_epi16(w, 8), 1), _mm512_set1_epi16(static_cast<short>(0xbf80)));
}

// ---- conversions and roundings ---------------------------------------------------------------------
LOWBIT_ALWAYS_INLINE __m256i half_bits(__m512 x) noexcept {
  return _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
// x's bits plus the increment that rounds them to nearest even at bit Dropped: the high 32 - Dropped bits
// are then x rounded to Dropped fewer fraction bits (a carry into the exponent is the right result), the
// low ones garbage. Kernels send groups with a non-finite scale or bias to the scalar reference, so no NaN
// reaches here; infinities round to themselves.
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
// Four integer operations that run on every vector pipe, instead of two conversions that do not.
// tests/backend_test.cpp checks it against vcvtps2ph for every product of a half scale and a code that
// affine.hpp's normal_products admits.
LOWBIT_ALWAYS_INLINE __m512 round_normal_to_half(__m512 x) noexcept {
  return _mm512_castsi512_ps(_mm512_and_si512(rounded_bits<13>(x), _mm512_set1_epi32(static_cast<int>(0xffffe000u))));
}

// bfloat16 rounding kept in float lanes (no narrowing and widening shuffles): clear the low 16 bits.
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

// 16 float lanes as O: __m512 for float, 16 x 16 bits for half and bfloat16.
template <class O>
LOWBIT_ALWAYS_INLINE auto narrow(__m512 x) noexcept {
  if constexpr (std::is_same<O, float>::value) {
    return x;
  } else if constexpr (std::is_same<O, half>::value) {
    return half_bits(x);
  } else {
    return bfloat16_bits(x);
  }
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
// One 64-byte line copied with non-temporal stores, and the fence that orders them before what follows
// (kernel_parts.hpp, streaming_stores).
struct lines {
  static LOWBIT_ALWAYS_INLINE void stream(unsigned char* d, const unsigned char* s) noexcept {
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d), _mm512_loadu_si512(s));
  }
  static LOWBIT_ALWAYS_INLINE void fence() noexcept { _mm_sfence(); }
};

}  // namespace avx512
}  // namespace detail
LOWBIT_END_NAMESPACE

LOWBIT_AVX512_WARNINGS_ON

#endif  // LOWBIT_HAVE_AVX512

#endif  // LOWBIT_DETAIL_X86_AVX512_OPS_HPP
