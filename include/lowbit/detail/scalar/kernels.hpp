// lowbit/detail/scalar/kernels.hpp — the scalar kernel set (the interface: detail/backends.hpp): the
// oracle every SIMD kernel set is tested against, and the active set where no SIMD one applies.
#ifndef LOWBIT_DETAIL_SCALAR_KERNELS_HPP
#define LOWBIT_DETAIL_SCALAR_KERNELS_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../../config.hpp"
#include "../../mode.hpp"
#include "affine.hpp"
#include "fp.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

struct scalar_kernels {
  static constexpr const char* name = "scalar";
  static constexpr std::size_t overread = 0;  // reads exactly the codes it is given
  static constexpr bool has_streaming_stores = false;  // portable C++ has none
  static constexpr bool streams_directly = false;
  static void stream_lines(void* dst, const void* src, std::size_t bytes) noexcept { std::memcpy(dst, src, bytes); }
  static void stream_fence() noexcept {}

  template <int Bits, int GroupSize, bool Stream = false, class S, class O>
  static void dequantize(const std::uint32_t* wq, const S* scales, const S* biases, O* out,
                         std::size_t groups) noexcept {
    scalar_affine_groups<Bits, GroupSize>(wq, scales, biases, out, groups);
  }
  template <mode M, bool Global = false, class O>
  static void dequantize_fp(const std::uint32_t* wq, const std::uint8_t* scales, O* out, std::size_t groups,
                            float decode) noexcept {
    scalar_fp_groups<M, Global>(wq, scales, out, groups, decode);
  }
};

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_DETAIL_SCALAR_KERNELS_HPP
