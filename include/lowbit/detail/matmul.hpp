// lowbit/detail/matmul.hpp — quantized matmul inside a kernel set: what a kernel is handed, the scalar
// reference, and the accumulating loop every SIMD kernel set builds from its float lanes.
//
// Every weight is w = a * v + c for its group's factors (a, c) and its value v: affine a = s, c = b, v = q;
// fp modes a = the scale factor sf, c = 0, v = the E2M1 or E4M3 element. All arithmetic is float32, so the
// error stays within the bound docs/format.md states for quantized_matmul. Two products serve every layout:
//   transpose (W is N x K, y = x W^T): y[m][n] = sum_g a_g * (sum_i v_i x[m][gi]) + c_g * sum_i x[m][gi],
//     the group sums of x computed once per call (xsum) and shared by all N outputs;
//   not transposed (W is K x N, y = x W): y[m][n] += (x[m][k] a) v + x[m][k] c, row k of W at a time.
#ifndef LOWBIT_DETAIL_MATMUL_HPP
#define LOWBIT_DETAIL_MATMUL_HPP

#include <cstddef>
#include <cstdint>

#include "../config.hpp"
#include "../format.hpp"
#include "../mode.hpp"
#include "../types.hpp"
#include "fp_numeric.hpp"
#include "scalar/fp.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

// What a matmul kernel is handed: x as float (M x K, row-major), the group sums of x (M x K / group size;
// transpose only), and y as float (M x N, row-major).
struct matmul_problem {
  const float* x;
  const float* xsum;
  float* y;
  std::size_t M, N, K;
};

// The weights of the affine mode: factors (s, b), values the codes.
template <int Bits, int GroupSize, class S>
struct affine_weights {
  static constexpr int group_size = GroupSize;
  static constexpr int bits = Bits;
  static constexpr std::size_t words = format::words_per_group(Bits, GroupSize);
  const S* scales;
  const S* biases;
  affine_weights at(std::size_t g) const noexcept { return {scales + g, biases + g}; }  // from group g on
  LOWBIT_ALWAYS_INLINE float a(std::size_t g) const noexcept { return static_cast<float>(scales[g]); }
  LOWBIT_ALWAYS_INLINE float c(std::size_t g) const noexcept { return static_cast<float>(biases[g]); }
  LOWBIT_ALWAYS_INLINE float value(std::uint32_t code) const noexcept { return static_cast<float>(code); }
};

// The weights of an fp mode: factor the scale factor (as dequantize computes it in float32), no bias,
// values the E2M1 or E4M3 elements.
template <mode M, bool Global>
struct fp_weights {
  static constexpr int group_size = mode_group_size(M);
  static constexpr int bits = mode_bits(M);
  static constexpr std::size_t words = static_cast<std::size_t>(mode_group_size(M) * mode_bits(M) / 32);
  const std::uint8_t* scales;
  float decode;
  fp_weights at(std::size_t g) const noexcept { return {scales + g, decode}; }  // from group g on
  LOWBIT_ALWAYS_INLINE float a(std::size_t g) const noexcept {
    return Global ? fp::global_scale_factor(scales[g], decode) : fp::scale_factor<M, float>(scales[g]);
  }
  LOWBIT_ALWAYS_INLINE float c(std::size_t) const noexcept { return 0.0f; }
  LOWBIT_ALWAYS_INLINE float value(std::uint32_t code) const noexcept { return fp_element<M>(code); }
};

// A group's values as floats, from its codes.
template <class Weights>
LOWBIT_ALWAYS_INLINE void group_values(const Weights& w, const std::uint32_t* codes, float* v) noexcept {
  for (int i = 0; i < Weights::group_size; ++i) {
    v[i] = w.value(format::code_at(codes, static_cast<std::size_t>(i), Weights::bits));
  }
}

// The matmul part of the scalar kernel set, and what the SIMD sets have no kernel of their own for. The
// `rows` rows of a transposed W from row `first` (wq and w start at that row; y's column `first`), or the
// `count` groups along N from group `first` of every row of a W that is not transposed (wq and w start at
// that group of row 0; y's columns from first * group size).
struct scalar_matmul {
  template <class Weights>
  static void matmul_rows(const Weights& w, const std::uint32_t* wq, const matmul_problem& p, std::size_t first,
                          std::size_t rows) noexcept {
    constexpr int gs = Weights::group_size;
    const std::size_t groups = p.K / gs;
    float v[gs];
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t m = 0; m < p.M; ++m) p.y[m * p.N + first + r] = 0.0f;
      for (std::size_t g = 0; g < groups; ++g) {
        const std::size_t group = r * groups + g;
        group_values(w, wq + group * Weights::words, v);
        const float a = w.a(group), c = w.c(group);
        for (std::size_t m = 0; m < p.M; ++m) {
          const float* x = p.x + m * p.K + g * gs;
          float dot = 0.0f;
          for (int i = 0; i < gs; ++i) dot += v[i] * x[i];
          p.y[m * p.N + first + r] += a * dot + c * p.xsum[m * groups + g];
        }
      }
    }
  }

  template <class Weights>
  static void matmul_columns(const Weights& w, const std::uint32_t* wq, const matmul_problem& p, std::size_t first,
                             std::size_t count) noexcept {
    constexpr int gs = Weights::group_size;
    const std::size_t groups = p.N / gs;  // per row of W
    float v[gs];
    for (std::size_t m = 0; m < p.M; ++m) {
      for (std::size_t j = 0; j < count * gs; ++j) p.y[m * p.N + first * gs + j] = 0.0f;
    }
    for (std::size_t k = 0; k < p.K; ++k) {
      for (std::size_t g = 0; g < count; ++g) {
        const std::size_t group = k * groups + g;
        group_values(w, wq + group * Weights::words, v);
        const float a = w.a(group), c = w.c(group);
        for (std::size_t m = 0; m < p.M; ++m) {
          const float xk = p.x[m * p.K + k], xa = xk * a, xc = xk * c;
          float* y = p.y + m * p.N + (first + g) * gs;
          for (int i = 0; i < gs; ++i) y[i] += xa * v[i] + xc;
        }
      }
    }
  }
};

// The transposed product on an instruction set's float lanes (Lanes: vec, width, partials, zero, load,
// set1, add, fma, sum, widen(values, n, floats), and codes<Bits, GroupSize>(bytes, f), which calls f(i, q) with the codes of lanes i * width ... as
// floats, in order). Per group, the products with x accumulate in float lanes and are scaled once
// (a * acc); the bias is folded as c * xsum. Blocks of 4, 2 or 1 rows of x share each unpacked vector of
// codes. A row's group factors are widened to float first, up to `chunk` groups at a time, so that the
// loop over codes is compiled once per bit width and group size, whatever the scale type. The fp modes
// take the scalar loop.
template <class Lanes>
struct lane_matmul : scalar_matmul {
  using scalar_matmul::matmul_rows;

  template <int Bits, int GroupSize, class S>
  static void matmul_rows(const affine_weights<Bits, GroupSize, S>& w, const std::uint32_t* wq,
                          const matmul_problem& p, std::size_t first, std::size_t rows) noexcept {
    constexpr std::size_t chunk = 64, words = format::words_per_group(Bits, GroupSize);
    const std::size_t groups = p.K / GroupSize;
    alignas(64) float a[chunk], c[chunk];
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t g0 = 0; g0 < groups; g0 += chunk) {
        const std::size_t n = groups - g0 < chunk ? groups - g0 : chunk, group = r * groups + g0;
        Lanes::widen(w.scales + group, n, a);
        Lanes::widen(w.biases + group, n, c);
        row_groups<Bits, GroupSize>(wq + group * words, a, c, n, p, g0, first + r);
      }
    }
  }

 private:
  // Groups [g0, g0 + n) of one row of W (codes from `codes`, factors a and c) into column `column` of y,
  // which they start (g0 == 0) or add to.
  template <int Bits, int GroupSize>
  static void row_groups(const std::uint32_t* codes, const float* a, const float* c, std::size_t n,
                         const matmul_problem& p, std::size_t g0, std::size_t column) noexcept {
    std::size_t m = 0;
    for (; m + 4 <= p.M; m += 4) block<4, Bits, GroupSize>(codes, a, c, n, p, g0, column, m);
    if (m + 2 <= p.M) block<2, Bits, GroupSize>(codes, a, c, n, p, g0, column, m), m += 2;
    if (m < p.M) block<1, Bits, GroupSize>(codes, a, c, n, p, g0, column, m);
  }

  template <int MB, int Bits, int GroupSize>
  static LOWBIT_ALWAYS_INLINE void block(const std::uint32_t* codes, const float* a, const float* c, std::size_t n,
                                         const matmul_problem& p, std::size_t g0, std::size_t column,
                                         std::size_t m0) noexcept {
    using vec = typename Lanes::vec;
    constexpr std::size_t words = format::words_per_group(Bits, GroupSize);
    const std::size_t groups = p.K / GroupSize;
    vec total[MB];
    float bias[MB];
    for (int j = 0; j < MB; ++j) total[j] = Lanes::zero(), bias[j] = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
      const float* x = p.x + m0 * p.K + (g0 + i) * GroupSize;
      // Partial sums in P registers per row, so that consecutive FMAs do not wait for each other.
      constexpr int vectors = GroupSize / Lanes::width, P = Lanes::partials < vectors ? Lanes::partials : vectors;
      vec acc[MB][P];
      for (int j = 0; j < MB; ++j) {
        for (int k = 0; k < P; ++k) acc[j][k] = Lanes::zero();
      }
      Lanes::template codes<Bits, GroupSize>(reinterpret_cast<const std::uint8_t*>(codes + i * words),
                                             [&](int v, vec q) {
                                               for (int j = 0; j < MB; ++j) {
                                                 const vec xj = Lanes::load(x + j * p.K + v * Lanes::width);
                                                 acc[j][v % P] = Lanes::fma(q, xj, acc[j][v % P]);
                                               }
                                             });
      const vec ai = Lanes::set1(a[i]);
      for (int j = 0; j < MB; ++j) {
        for (int k = 1; k < P; ++k) acc[j][0] = Lanes::add(acc[j][0], acc[j][k]);
        total[j] = Lanes::fma(ai, acc[j][0], total[j]);
        bias[j] += c[i] * p.xsum[(m0 + j) * groups + g0 + i];
      }
    }
    for (int j = 0; j < MB; ++j) {
      float& y = p.y[(m0 + j) * p.N + column];
      const float part = Lanes::sum(total[j]) + bias[j];
      y = g0 == 0 ? part : y + part;
    }
  }
};

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_DETAIL_MATMUL_HPP
