// lowbit/detail/arm_neon/kernels.hpp — the NEON kernel set (the interface: detail/backends.hpp).
#ifndef LOWBIT_DETAIL_ARM_NEON_KERNELS_HPP
#define LOWBIT_DETAIL_ARM_NEON_KERNELS_HPP

#include "../../config.hpp"

#if LOWBIT_HAVE_NEON

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../../mode.hpp"
#include "affine.hpp"
#include "fp.hpp"
#include "ops.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

struct neon_kernels {
#if LOWBIT_NEON_FP16 && LOWBIT_NEON_BF16
  static constexpr const char* name = "neon-fp16-bf16";
#elif LOWBIT_NEON_FP16
  static constexpr const char* name = "neon-fp16";
#elif LOWBIT_NEON_BF16
  static constexpr const char* name = "neon-bf16";
#else
  static constexpr const char* name = "neon";
#endif
  static constexpr std::size_t overread = 16;  // chunk loads may read this many bytes past the codes
  // NEON's only non-temporal store is stnp, a hint Apple cores ignore; results are stored normally.
  static constexpr bool has_streaming_stores = false;
  static constexpr bool streams_directly = false;
  static void stream_lines(void* dst, const void* src, std::size_t bytes) noexcept { std::memcpy(dst, src, bytes); }
  static void stream_fence() noexcept {}

  template <int Bits, int GroupSize, bool Stream = false, class S, class O>
  static void dequantize(const std::uint32_t* wq, const S* scales, const S* biases, O* out,
                         std::size_t groups) noexcept {
    neon::affine_groups<Bits, GroupSize>(wq, scales, biases, out, groups);
  }
  template <mode M, bool Global = false, class O>
  static void dequantize_fp(const std::uint32_t* wq, const std::uint8_t* scales, O* out, std::size_t groups,
                            float decode) noexcept {
    neon::fp_groups<M, Global>(wq, scales, out, groups, decode);
  }
};

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_HAVE_NEON

#endif  // LOWBIT_DETAIL_ARM_NEON_KERNELS_HPP
