// lowbit/detail/scalar/fp.hpp — the floating-point modes one element at a time: the reference every kernel
// set is tested against, the SIMD kernels' way out for groups with a non-finite scale factor, and MLX's fp
// quantize.
#ifndef LOWBIT_DETAIL_SCALAR_FP_HPP
#define LOWBIT_DETAIL_SCALAR_FP_HPP

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../../config.hpp"
#include "../../format.hpp"
#include "../../mode.hpp"
#include "../../types.hpp"
#include "../fp_numeric.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

template <mode M>
LOWBIT_ALWAYS_INLINE float fp_element(unsigned code) noexcept {
  if constexpr (M == mode::mxfp8) {
    return fp::e4m3_values[code];
  } else {
    return fp::e2m1_values[code];
  }
}

// One group, one element at a time, straight from the rule in fp_numeric.hpp. The SIMD kernels call this
// for groups whose sf is not finite.
template <mode M, class O>
void scalar_fp_group(const std::uint32_t* words, float sf, O* out) noexcept {
  constexpr int group_size = mode_group_size(M);
  const auto element = [&](int i) {
    return fp_element<M>(format::code_at(words, static_cast<std::size_t>(i), mode_bits(M)));
  };
  if (finite(sf)) {
    for (int i = 0; i < group_size; ++i) out[i] = fp::value<O>(sf, element(i));
  } else {
    for (int i = 0; i < group_size; ++i) out[i] = fp::nonfinite_value<O>(sf, element(i));
  }
}

// The fp part of the scalar kernel set: groups of mode M one element at a time. Global: nvfp4 with a global
// scale, whose decode factor is `decode` (fp::global_decode); otherwise decode is unused.
struct scalar_fp {
  template <mode M, bool Global = false, class O>
  static void dequantize_fp(const std::uint32_t* wq, const std::uint8_t* scales, O* out, std::size_t groups,
                            float decode) noexcept {
    constexpr std::size_t group_size = mode_group_size(M), words = group_size * mode_bits(M) / 32;
    for (std::size_t g = 0; g < groups; ++g) {
      const std::uint8_t code = scales[g];
      const float sf = Global ? fp::global_scale_factor(code, decode) : fp::scale_factor<M, O>(code);
      scalar_fp_group<M>(wq + g * words, sf, out + g * group_size);
    }
  }
};

// MLX's fp quantize (mlx/core/ops.cpp, fp_quantize; checked bit for bit against every golden file), per
// group of the input type T, every step in T unless said otherwise:
//   amax = max |w_i|                                  (a NaN propagates)
//   s    = round_T(amax / maxval)                     maxval 6 (fp4) or 448 (mxfp8)
//   mxfp4, mxfp8: e = s == 0 ? 0 : int32(rint(round_T(log2(s))));  scale code = uint8(e + 127) (mod 256)
//                 q_i = round_T(w_i / round_T(2^e))
//   nvfp4:        scale code c = to_e4m3(s); q_i = round_T(w_i / e4m3(c))
//   nvfp4 with a global scale g (float32): enc = 2688 / g (float32);
//                 c = to_e4m3(float(s) * enc); q_i = float(round_T(w_i / e4m3(c))) * enc   (float32)
//   element code: E2M1 by fp::e2m1_code (first nearest), E4M3 by fp::to_e4m3 of q_i.
template <mode M, class T>
void fp_quantize_groups(const T* w, std::uint32_t* wq, std::uint8_t* scales, std::size_t groups,
                        const float* global_scale) noexcept {
  constexpr int group_size = mode_group_size(M);
  constexpr int bits = mode_bits(M);
  constexpr std::size_t words = static_cast<std::size_t>(group_size * bits / 32);
  const float maxval = M == mode::mxfp8 ? 448.0f : 6.0f;
  const bool global = M == mode::nvfp4 && global_scale != nullptr;
  const float encode = global ? 2688.0f / *global_scale : 0.0f;
  for (std::size_t g = 0; g < groups; ++g, w += group_size, wq += words) {
    float amax = 0.0f;
    for (int i = 0; i < group_size; ++i) {
      const float a = std::abs(fp::widen(w[i]));
      if (a != a || amax != amax) {
        amax = amax != amax ? amax : a;  // the first NaN stays
      } else {
        amax = std::max(amax, a);
      }
    }
    const T s = fp::to<T>(amax / maxval);

    std::uint32_t packed[words] = {};
    auto put = [&](int i, unsigned code) { packed[i * bits / 32] |= static_cast<std::uint32_t>(code) << (i * bits % 32); };
    if constexpr (M == mode::nvfp4) {
      const std::uint8_t c = fp::to_e4m3(global ? fp::widen(s) * encode : fp::widen(s));
      const T divisor = fp::to<T>(fp::e4m3_values[c]);  // exact
      for (int i = 0; i < group_size; ++i) {
        const T q = fp::div(w[i], divisor);
        put(i, global ? fp::e2m1_code(fp::widen(q) * encode) : fp::e2m1_code(q));
      }
      scales[g] = c;
    } else {
      const std::int32_t e = fp::e8m0_exponent(s);
      const T divisor = fp::pow2<T>(e);
      for (int i = 0; i < group_size; ++i) {
        const T q = fp::div(w[i], divisor);
        put(i, M == mode::mxfp8 ? fp::to_e4m3(fp::widen(q)) : fp::e2m1_code(q));
      }
      scales[g] = static_cast<std::uint8_t>(static_cast<std::uint32_t>(e) + 127u);  // MLX's astype(uint8)
    }
    std::copy(packed, packed + words, wq);
  }
}

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_DETAIL_SCALAR_FP_HPP
