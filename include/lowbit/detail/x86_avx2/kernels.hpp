// lowbit/detail/x86_avx2/kernels.hpp — the AVX2 + F16C kernel set (the interface: detail/backends.hpp).
#ifndef LOWBIT_DETAIL_X86_AVX2_KERNELS_HPP
#define LOWBIT_DETAIL_X86_AVX2_KERNELS_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_AVX2

#include <cstddef>
#include <cstdint>

#include "../../mode.hpp"
#include "affine.hpp"
#include "fp.hpp"
#include "ops.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

struct avx2_kernels {
  static constexpr const char* name = "avx2";
  static constexpr std::size_t overread = 8;  // chunk loads may read this many bytes past the codes
  static constexpr bool has_streaming_stores = true;
  static constexpr bool streams_directly = true;
  static void stream_lines(void* dst, const void* src, std::size_t bytes) noexcept { avx2::stream_lines(dst, src, bytes); }
  static void stream_fence() noexcept { avx2::stream_fence(); }

  template <int Bits, int GroupSize, bool Stream = false, class S, class O>
  static void dequantize(const std::uint32_t* wq, const S* scales, const S* biases, O* out,
                         std::size_t groups) noexcept {
    avx2::affine_groups<Bits, GroupSize, Stream>(wq, scales, biases, out, groups);
  }
  template <mode M, bool Global = false, class O>
  static void dequantize_fp(const std::uint32_t* wq, const std::uint8_t* scales, O* out, std::size_t groups,
                            float decode) noexcept {
    avx2::fp_groups<M, Global>(wq, scales, out, groups, decode);
  }
};

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_AVX2

#endif  // LOWBIT_DETAIL_X86_AVX2_KERNELS_HPP
