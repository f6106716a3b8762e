// lowbit/detail/scalar/affine.hpp — the affine rule one element at a time: the reference every kernel set
// is tested against, the SIMD kernels' way out for non-finite groups, and MLX's affine quantize.
#ifndef LOWBIT_DETAIL_SCALAR_AFFINE_HPP
#define LOWBIT_DETAIL_SCALAR_AFFINE_HPP

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "../../config.hpp"
#include "../../format.hpp"
#include "../../types.hpp"
#include "../numeric.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

// The affine part of the scalar kernel set: groups one element at a time, straight from the rule in
// numeric.hpp.
struct scalar_affine {
  template <int Bits, int GroupSize, bool Stream = false, class S, class O>
  static void dequantize(const std::uint32_t* wq, const S* scales, const S* biases, O* out,
                         std::size_t groups) noexcept {
    constexpr std::size_t words = format::words_per_group(Bits, GroupSize);
    for (std::size_t g = 0; g < groups; ++g, wq += words, out += GroupSize) {
      const S scale = scales[g];
      const S bias = biases[g];
      for (int i = 0; i < GroupSize; ++i) {
        out[i] = convert<O>(affine_value(scale, bias, format::code_at(wq, static_cast<std::size_t>(i), Bits)));
      }
    }
  }
};

// The SIMD backends' way out for a group whose scale or bias is not finite: the reference, kept out of
// line so that the rare case does not weigh on the vector loop.
template <int Bits, int GroupSize, class S, class O>
LOWBIT_NOINLINE void dequantize_special_group(const std::uint32_t* wq, const S* scale, const S* bias, O* out) noexcept {
  scalar_affine::dequantize<Bits, GroupSize>(wq, scale, bias, out, 1);
}

// MLX's CPU affine quantization, group by group, in float32 (mlx/backend/cpu/quantized.cpp):
//   n_bins = 2^bits - 1, w_min/w_max of the group (NaNs skipped, as std::min/std::max do),
//   scale  = max((w_max - w_min) / n_bins, 1e-7), negated unless |w_min| > |w_max|,
//   edge   = the endpoint of larger magnitude, q0 = rint(edge / scale);
//   if q0 != 0: scale = edge / q0 and bias = edge (so the edge is represented exactly), else bias = 0;
//   q      = clamp(rint((w - bias) / scale), 0, n_bins)   computed with the float32 scale and bias;
//   scales and biases are stored rounded to T.
// A NaN element gets code 0 (what MLX's float-to-integer conversion yields on x86).
template <int Bits, int GroupSize, class T>
void quantize_groups(const T* w, std::uint32_t* wq, T* scales, T* biases, std::size_t groups) noexcept {
  constexpr std::size_t words = format::words_per_group(Bits, GroupSize);
  const float n_bins = static_cast<float>(format::max_code(Bits));
  const float eps = 1e-7f;
  float values[GroupSize];
  for (std::size_t g = 0; g < groups; ++g, w += GroupSize, wq += words) {
    float w_min = std::numeric_limits<float>::infinity();
    float w_max = -w_min;
    for (int i = 0; i < GroupSize; ++i) {
      values[i] = static_cast<float>(w[i]);
      w_max = std::max(w_max, values[i]);
      w_min = std::min(w_min, values[i]);
    }
    const bool min_is_edge = std::abs(w_min) > std::abs(w_max);
    float scale = std::max((w_max - w_min) / n_bins, eps);
    scale = min_is_edge ? scale : -scale;
    const float edge = min_is_edge ? w_min : w_max;
    const float q0 = std::rint(edge / scale);
    float bias = 0.0f;
    if (q0 != 0.0f) {
      scale = edge / q0;
      bias = edge;
    }
    std::fill(wq, wq + words, 0u);
    for (int i = 0; i < GroupSize; ++i) {
      const float q = std::rint((values[i] - bias) / scale);
      const float clamped = std::min(std::max(q, 0.0f), n_bins);
      const std::uint32_t code = std::isnan(clamped) ? 0u : static_cast<std::uint32_t>(clamped);
      format::put_code(wq, static_cast<std::size_t>(i), Bits, code);
    }
    scales[g] = T(scale);
    biases[g] = T(bias);
  }
}

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_DETAIL_SCALAR_AFFINE_HPP
