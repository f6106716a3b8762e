// lowbit/detail/kernel_parts.hpp — the parts every instruction set assembles its kernel set from
// (detail/<isa>/kernels.hpp: an affine part, an fp part and a store part; the interface: backends.hpp).
// The loops here are the same for every instruction set; what happens to one group is the ISA's.
#ifndef LOWBIT_DETAIL_KERNEL_PARTS_HPP
#define LOWBIT_DETAIL_KERNEL_PARTS_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../config.hpp"
#include "../format.hpp"
#include "../mode.hpp"
#include "fp_numeric.hpp"
#include "numeric.hpp"
#include "scalar/affine.hpp"
#include "scalar/fp.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

// A kernel set without non-temporal stores: results are stored normally.
struct regular_stores {
  static constexpr bool has_streaming_stores = false;
  static constexpr bool streams_directly = false;
  static void stream_lines(void* dst, const void* src, std::size_t bytes) noexcept { std::memcpy(dst, src, bytes); }
  static void stream_fence() noexcept {}
};

// A kernel set with non-temporal stores (x86): they neither read the destination line first nor evict
// useful lines for a result far larger than the cache. Lines::stream copies one 64-byte line with them and
// Lines::fence orders them before what follows; the kernels also store non-temporally themselves (Stream)
// into 64-byte aligned outputs.
template <class Lines>
struct streaming_stores {
  static constexpr bool has_streaming_stores = true;
  static constexpr bool streams_directly = true;
  // Copies whole cache lines to a 64-byte aligned dst (bytes a multiple of 64).
  static void stream_lines(void* dst, const void* src, std::size_t bytes) noexcept {
    auto* d = static_cast<unsigned char*>(dst);
    const auto* s = static_cast<const unsigned char*>(src);
    for (std::size_t i = 0; i < bytes; i += 64) Lines::stream(d + i, s + i);
  }
  static void stream_fence() noexcept { Lines::fence(); }
};

// Affine groups in batches of Batch, whose scales and biases are widened to float together
// (Batches::widen returns the mask of the finite ones). A batch whose scales and biases are all finite goes
// to Batches::finite_batch, which picks the rule's fast paths that every group of it admits and runs them
// with finite_groups: a loop with no branch and no call, so its constant vectors stay in registers. In the
// other batches a group whose scale or bias is not finite takes the scalar reference (it defines NaN
// payloads and inf * 0), the others Batches::group with the plain rule.
template <class Batches, std::size_t Batch>
struct batched_affine {
  template <int Bits, int GroupSize, bool Stream = false, class S, class O>
  static void dequantize(const std::uint32_t* wq, const S* scales, const S* biases, O* out,
                         std::size_t groups) noexcept {
    constexpr std::size_t bytes = format::words_per_group(Bits, GroupSize) * 4, batch = Batch;
    const auto* codes = reinterpret_cast<const std::uint8_t*>(wq);
    alignas(64) float scale[batch], bias[batch];
    for (std::size_t first = 0; first < groups; first += batch) {
      const std::size_t n = groups - first < batch ? groups - first : batch;
      const unsigned finite = Batches::widen(scales + first, n, scale) & Batches::widen(biases + first, n, bias);
      if (finite == (1u << n) - 1) {
        Batches::template finite_batch<Bits, GroupSize, Stream, S>(codes + first * bytes, scale, bias,
                                                                   out + first * GroupSize, n);
        continue;
      }
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t g = first + i;
        if (((finite >> i) & 1u) == 0) {
          dequantize_special_group<Bits, GroupSize>(wq + g * bytes / 4, scales + g, biases + g, out + g * GroupSize);
        } else {
          using rule = typename Batches::template rule_type<S>;
          Batches::template group<Bits, GroupSize, Stream>(codes + g * bytes, rule(scale[i], bias[i]), out + g * GroupSize);
        }
      }
    }
  }

  // n groups of finite scales and biases with one Rule type for all.
  template <int Bits, int GroupSize, bool Stream, class Rule, class O>
  static LOWBIT_ALWAYS_INLINE void finite_groups(const std::uint8_t* codes, const float* scale, const float* bias,
                                                 O* out, std::size_t n) noexcept {
    constexpr std::size_t bytes = format::words_per_group(Bits, GroupSize) * 4;
    for (std::size_t i = 0; i < n; ++i) {
      Batches::template group<Bits, GroupSize, Stream>(codes + i * bytes, Rule(scale[i], bias[i]), out + i * GroupSize);
    }
  }
};

// fp groups one at a time: Groups' kernel for the mode and output type (mxfp8, fp4_float, fp4_words32,
// fp4_words16) for a finite scale factor sf, the scalar reference for the
// others (E8M0 code 255, half outputs past 2^15, a non-finite global scale), which spells out their NaN
// bits: the vector code never meets a NaN.
template <class Groups>
struct per_group_fp {
  template <mode M, bool Global = false, class O>
  static void dequantize_fp(const std::uint32_t* wq, const std::uint8_t* scales, O* out, std::size_t groups,
                            float decode) noexcept {
    constexpr int group_size = mode_group_size(M);
    constexpr std::size_t bytes = static_cast<std::size_t>(group_size * mode_bits(M) / 8);
    const auto* codes = reinterpret_cast<const std::uint8_t*>(wq);
    for (std::size_t g = 0; g < groups; ++g, codes += bytes, out += group_size) {
      const float sf = fp::group_factor<M, O, Global>(scales[g], decode);
      if (!finite(sf)) {
        scalar_fp_group<M>(reinterpret_cast<const std::uint32_t*>(codes), sf, out);
      } else if constexpr (M == mode::mxfp8) {
        Groups::mxfp8(codes, sf, out);
      } else if constexpr (std::is_same<O, float>::value) {
        Groups::template fp4_float<group_size>(codes, sf, out);
      } else if constexpr (group_size == 32) {
        Groups::fp4_words32(codes, sf, out);
      } else {
        Groups::fp4_words16(codes, sf, out);
      }
    }
  }
};

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_DETAIL_KERNEL_PARTS_HPP
