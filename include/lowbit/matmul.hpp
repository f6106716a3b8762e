// lowbit/matmul.hpp — quantized_matmul: activations times MLX-quantized weights, without a dense copy of
// the weights, as MLX's quantized_matmul(x, w, scales, biases, transpose, group_size, bits, mode).
// Included by <lowbit/lowbit.hpp>.
//
//   // An LLM linear layer: x is M x K (float, half or bfloat16), the weight N x K as MLX stores it.
//   lowbit::quantized_matmul(x, wq, scales, biases, y, M, N, K);                 // y = x W^T, 4 bits, group 64
//   lowbit::quantized_matmul(x, wq, scales, biases, y, M, N, K, true, bits, group_size);
//   lowbit::quantized_matmul(x, wq, scales, biases, y, M, N, K, true, opt);      // + threads or an executor
//   lowbit::quantized_matmul(lowbit::mode::mxfp4, x, wq, scales, y, M, N, K);    // fp modes: no biases
//   lowbit::quantized_matmul(lowbit::mode::nvfp4, x, wq, scales, y, M, N, K, true, &global_scale, opt);
//
// Shapes (all arrays dense and row-major; y is overwritten):
//   transpose = true   x M x K, weight N x K: wq N x (K * bits / 32), scales and biases N x (K / group_size);
//                      y = x W^T, M x N
//   transpose = false  x M x K, weight K x N: wq K x (N * bits / 32), scales and biases K x (N / group_size);
//                      y = x W, M x N
//
// Numerics: float32 arithmetic throughout (x, scales and biases widened exactly; the bias of each group
// folded as b * sum(x)), in an order of lowbit's choosing, so y is not bit-identical across backends or to
// MLX; every output is within the bound of docs/format.md, with w = s * q + b (affine) or element * scale
// (fp modes) taken exactly:
//   |y - y*| <= gamma(K + 2) * sum_i (|s q_i| + |b|) |x_i| + ulp_YT(y*) / 2,   gamma(n) = n u / (1 - n u),
//   u = 2^-24. Non-finite inputs give a non-finite output where the exact result is non-finite.
//
// Errors (lowbit::error, nothing written to y): bits, group_size, the quantized dimension (K transposed,
// else N) not a multiple of group_size, an fp mode's global scale with another mode, sizes overflowing
// size_t, a null pointer for a non-empty array. M or N zero writes nothing; K zero writes zeros.
//
// Memory: when x is not float, the call converts it to a float array of M x K (and keeps M x N floats for
// a y that is not float), so a caller computing many products with the same x should pass floats.
#ifndef LOWBIT_MATMUL_HPP
#define LOWBIT_MATMUL_HPP

#include <cstddef>
#include <cstdint>

#include "config.hpp"
#include "detail/backends.hpp"
#include "detail/driver.hpp"
#include "mode.hpp"
#include "parallel.hpp"
#include "types.hpp"

LOWBIT_BEGIN_NAMESPACE

/// y = x W^T (transpose) or x W for an affine weight, with bits, group_size, threads (lowbit's or an
/// executor of yours) from `opt`; opt.stores does not apply. XT, ScaleT and YT are float, lowbit::half or
/// lowbit::bfloat16 (or a type storage_of maps onto one).
template <class XT, class ScaleT, class YT>
void quantized_matmul(const XT* x, const std::uint32_t* wq, const ScaleT* scales, const ScaleT* biases, YT* y,
                      std::size_t M, std::size_t N, std::size_t K, bool transpose, const options& opt) {
  detail::check_types<XT, YT>();
  detail::check_types<ScaleT, ScaleT>();
  detail::quantized_matmul_affine<detail::active_kernels>(detail::as_storage(x), wq, detail::as_storage(scales),
                                                          detail::as_storage(biases), detail::as_storage(y), M, N,
                                                          K, transpose, opt);
}

/// The same with bits and group_size (MLX's defaults: 4, 64), on the calling thread.
template <class XT, class ScaleT, class YT>
void quantized_matmul(const XT* x, const std::uint32_t* wq, const ScaleT* scales, const ScaleT* biases, YT* y,
                      std::size_t M, std::size_t N, std::size_t K, bool transpose = true, int bits = default_bits,
                      int group_size = default_group_size) {
  quantized_matmul(x, wq, scales, biases, y, M, N, K, transpose, detail::config_options(bits, group_size));
}

/// The fp modes (mxfp4, nvfp4, mxfp8): uint8 scale codes, no biases; global_scale only for nvfp4.
template <class XT, class YT>
void quantized_matmul(mode md, const XT* x, const std::uint32_t* wq, const std::uint8_t* scales, YT* y,
                      std::size_t M, std::size_t N, std::size_t K, bool transpose = true,
                      const float* global_scale = nullptr) {
  quantized_matmul(md, x, wq, scales, y, M, N, K, transpose, global_scale, options());
}
/// The same with threads (lowbit's or an executor of yours) from `opt` (its bits and group_size do not
/// apply: the mode fixes them).
template <class XT, class YT>
void quantized_matmul(mode md, const XT* x, const std::uint32_t* wq, const std::uint8_t* scales, YT* y,
                      std::size_t M, std::size_t N, std::size_t K, bool transpose, const float* global_scale,
                      const options& opt) {
  detail::check_types<XT, YT>();
  detail::quantized_matmul_fp<detail::active_kernels>(md, detail::as_storage(x), wq, scales, detail::as_storage(y),
                                                      M, N, K, transpose, global_scale, opt);
}

namespace scalar {
/// The scalar reference of quantized_matmul: the same API, one element at a time.
template <class XT, class ScaleT, class YT>
void quantized_matmul(const XT* x, const std::uint32_t* wq, const ScaleT* scales, const ScaleT* biases, YT* y,
                      std::size_t M, std::size_t N, std::size_t K, bool transpose = true, int bits = default_bits,
                      int group_size = default_group_size) {
  detail::check_types<XT, YT>();
  detail::check_types<ScaleT, ScaleT>();
  detail::quantized_matmul_affine<detail::scalar_kernels>(detail::as_storage(x), wq, detail::as_storage(scales),
                                                          detail::as_storage(biases), detail::as_storage(y), M, N,
                                                          K, transpose, detail::config_options(bits, group_size));
}
}  // namespace scalar

LOWBIT_END_NAMESPACE

#endif  // LOWBIT_MATMUL_HPP
