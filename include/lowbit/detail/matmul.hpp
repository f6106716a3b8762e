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
#include <type_traits>
#include <vector>

#include "../config.hpp"
#include "../format.hpp"
#include "../mode.hpp"
#include "../types.hpp"
#include "fp_numeric.hpp"
#include "scalar/fp.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

// What a matmul kernel is handed: x as float (M x K, row-major; transposed, in the order the kernel set's
// order_x put it), the group sums of x (M x K / group size; transpose only), and y as float (M x N,
// row-major).
struct matmul_problem {
  const float* x;
  const float* xsum;
  float* y;
  std::size_t M, N, K;
};

// The weights of the affine mode: factors (s, b), values the codes.
template <int Bits, int GroupSize, class S>
struct affine_weights {
  using values_kind = affine_weights<Bits, GroupSize, float>;  // what the values depend on: not S
  static constexpr int group_size = GroupSize;
  static constexpr int bits = Bits;
  static constexpr std::size_t words = format::words_per_group(Bits, GroupSize);
  const S* scales;
  const S* biases;
  affine_weights at(std::size_t g) const noexcept { return {scales + g, biases + g}; }  // from group g on
  LOWBIT_ALWAYS_INLINE float a(std::size_t g) const noexcept { return static_cast<float>(scales[g]); }
  LOWBIT_ALWAYS_INLINE float c(std::size_t g) const noexcept { return static_cast<float>(biases[g]); }
  LOWBIT_ALWAYS_INLINE float value(std::uint32_t code) const noexcept { return static_cast<float>(code); }
  LOWBIT_ALWAYS_INLINE void prefetch_factors(std::size_t g) const noexcept {  // 64 groups from g on
    for (std::size_t i = 0; i < 64 * sizeof(S); i += 64) {
      LOWBIT_PREFETCH(reinterpret_cast<const char*>(scales + g) + i);
      LOWBIT_PREFETCH(reinterpret_cast<const char*>(biases + g) + i);
    }
  }
};

// The weights of an fp mode: factor the scale factor (as dequantize computes it in float32), no bias,
// values the E2M1 or E4M3 elements.
template <mode M, bool Global>
struct fp_weights;
template <class Weights>
struct is_fp_weights : std::false_type {};
template <mode M, bool Global>
struct is_fp_weights<fp_weights<M, Global>> : std::true_type {};

template <mode M, bool Global>
struct fp_weights {
  using values_kind = fp_weights<M, false>;  // what the values depend on: not the global scale
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
  LOWBIT_ALWAYS_INLINE void prefetch_factors(std::size_t g) const noexcept { LOWBIT_PREFETCH(scales + g); }
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
  static const float* order_x(const float* x, std::size_t, std::vector<float>&) noexcept {
    return x;
  }

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

// A group's values from its integer codes, for lane sets that unpack codes first (codes<Bits, GroupSize>,
// then affine_values<Bits>, e2m1 or e4m3 by the weight's mode): f(v, values of vector v).
template <class Lanes, class Weights>
LOWBIT_ALWAYS_INLINE typename Lanes::vec code_values(typename Lanes::ivec q) noexcept {
  if constexpr (!is_fp_weights<Weights>::value) {
    return Lanes::template affine_values<Weights::bits>(q);
  } else if constexpr (Weights::bits == 4) {
    return Lanes::e2m1(q);
  } else {
    return Lanes::e4m3(q);
  }
}
template <class Lanes, class Weights, class F>
LOWBIT_ALWAYS_INLINE void values_from_codes(const std::uint8_t* p, F&& f) noexcept {
  Lanes::template codes<Weights::bits, Weights::group_size>(
      p, [&](int v, typename Lanes::ivec q) { f(v, code_values<Lanes, Weights>(q)); });
}

// The product on an instruction set's float lanes. Lanes provides: vec, width, rows (of W per pass,
// transposed), columns (floats of y per tile, not transposed), zero, load, store, set1, mul, fma, sum,
// widen(factors, n, floats); stride<Bits, GroupSize>() and values<Weights>(bytes, f), which calls f(v,
// values) for each vector of the group's values (most build it from codes<Bits, GroupSize> and
// code_values above). With stride 1, vector v holds codes v * width ... in order. With a stride s > 1 (codes
// of s per byte, one byte per lane), each block of width * s codes comes as s vectors, vector j holding
// codes j, j + s, j + 2s, ...: unpacking then costs a shift and a mask per vector, and x, which every row
// of W shares, is put in that order once per call (order_x) instead of the codes in x's order per row.
//
// Per group, the products with x accumulate in float lanes and are scaled once (a * acc); the bias is
// folded as c * xsum. R rows of W share each load of x, and their codes stream from R places at once,
// which a core reads faster than one stream; MB rows of x share each unpacked vector of codes. A row's
// group factors are widened to float first, up to `chunk` groups at a time, so that the loop over codes
// is compiled once per bit width and group size, whatever the scale type.
template <class Lanes>
struct lane_matmul {
  template <class Weights>
  static constexpr int stride() noexcept {
    return Lanes::template stride<Weights::bits, Weights::group_size>();
  }

  // x (count floats, a multiple of the group size) in the order codes() delivers the codes.
  template <class Weights>
  static const float* order_x(const float* x, std::size_t count, std::vector<float>& storage) {
    constexpr int s = stride<Weights>(), block = s * Lanes::width;
    if constexpr (s == 1) {
      return x;
    } else {
      storage.resize(count);
      for (std::size_t b = 0; b < count; b += block) {
        for (int j = 0; j < s; ++j) {
          for (int l = 0; l < Lanes::width; ++l) storage[b + j * Lanes::width + l] = x[b + l * s + j];
        }
      }
      return storage.data();
    }
  }

  template <class Weights>
  static void matmul_rows(const Weights& w, const std::uint32_t* wq, const matmul_problem& p, std::size_t first,
                          std::size_t rows) noexcept {
    constexpr int R = Lanes::rows;
    std::size_t r = 0;
    for (; r + R <= rows; r += R) row_block<R>(w, wq, p, first, r);
    for (; r < rows; ++r) row_block<1>(w, wq, p, first, r);
  }

  // W not transposed (K x N): y[m][n] = sum_k (x[m][k] a) v + x[m][k] c. Tiles of T groups along N keep
  // their columns' sums in registers while the rows of W stream past; each group's bias is folded once,
  // as c * x[m][k] per row k. The sums come in the codes' order and are put back in y's at the end.
  template <class Weights>
  static void matmul_columns(const Weights& w, const std::uint32_t* wq, const matmul_problem& p, std::size_t first,
                             std::size_t count) noexcept {
    constexpr int T = Lanes::columns / Weights::group_size > 0 ? Lanes::columns / Weights::group_size : 1;
    std::size_t g = 0;
    for (; g + T <= count; g += T) column_tile<T>(w, wq, p, first, g);
    for (; g < count; ++g) column_tile<1>(w, wq, p, first, g);
  }

 private:
  static constexpr std::size_t chunk = 64;
  static constexpr std::size_t prefetch_distance = LOWBIT_MATMUL_PREFETCH;

  // Rows r .. r + R - 1 of those handed to matmul_rows, every row of x.
  template <int R, class Weights>
  static void row_block(const Weights& w, const std::uint32_t* wq, const matmul_problem& p, std::size_t first,
                        std::size_t r) noexcept {
    constexpr std::size_t words = Weights::words;
    const std::size_t groups = p.K / Weights::group_size;
    alignas(64) float a[R][chunk], c[R][chunk];
    const std::uint32_t* codes[R];
    for (std::size_t g0 = 0; g0 < groups; g0 += chunk) {
      const std::size_t n = groups - g0 < chunk ? groups - g0 : chunk;
      for (int i = 0; i < R; ++i) {
        const std::size_t group = (r + i) * groups + g0;
        codes[i] = wq + group * words;
        w.prefetch_factors(group + chunk);  // the next chunk's, which a miss would otherwise stall at
        if constexpr (is_fp_weights<Weights>::value) {
          for (std::size_t k = 0; k < n; ++k) a[i][k] = w.a(group + k);
        } else {
          Lanes::widen(w.scales + group, n, a[i]);
          Lanes::widen(w.biases + group, n, c[i]);
        }
      }
      // The loop over codes sees float factors only: it is compiled once per kind of values, whatever
      // the scale type.
      using kind = typename Weights::values_kind;
      std::size_t m = 0;
      if constexpr (R == 1) {
        for (; m + 4 <= p.M; m += 4) block<4, 1, kind>(codes, a, c, n, p, g0, first + r, m);
      }
      for (; m + 2 <= p.M; m += 2) block<2, R, kind>(codes, a, c, n, p, g0, first + r, m);
      if (m < p.M) block<1, R, kind>(codes, a, c, n, p, g0, first + r, m);
    }
  }

  // Groups g0 .. g0 + T - 1 (of those handed to matmul_columns) of every row of W, for every row of x.
  template <int T, class Weights>
  static void column_tile(const Weights& w, const std::uint32_t* wq, const matmul_problem& p, std::size_t first,
                          std::size_t g0) noexcept {
    using vec = typename Lanes::vec;
    constexpr int gs = Weights::group_size, V = gs / Lanes::width, s = stride<Weights>(), block = s * Lanes::width;
    constexpr std::size_t words = Weights::words;
    const std::size_t groups = p.N / gs;  // per row of W
    // Rows whose codes end within 64 bytes of the array's end are read from a padded copy: the unpacking
    // may read up to that far past them (rows of a narrow W are shorter than that).
    const std::uint32_t* const end = wq + (p.K * groups - first) * words;
    alignas(64) std::uint32_t last[T * words + 16] = {};
    for (std::size_t m = 0; m < p.M; ++m) {
      const float* x = p.x + m * p.K;
      vec acc[T][V];
      float bias[T];
      LOWBIT_UNROLL_GCC
      for (int t = 0; t < T; ++t) {
        bias[t] = 0.0f;
        LOWBIT_UNROLL_GCC
        for (int v = 0; v < V; ++v) acc[t][v] = Lanes::zero();
      }
      for (std::size_t k = 0; k < p.K; ++k) {
        const std::uint32_t* row = wq + (k * groups + g0) * words;
        if (end - row < static_cast<std::ptrdiff_t>(T * words + 16)) {
          for (std::size_t i = 0; i < T * words; ++i) last[i] = row[i];
          row = last;
        }
        LOWBIT_UNROLL_GCC
        for (int t = 0; t < T; ++t) {
          const std::size_t group = k * groups + g0 + static_cast<std::size_t>(t);
          const vec xa = Lanes::set1(x[k] * w.a(group));
          if constexpr (!is_fp_weights<Weights>::value) bias[t] += x[k] * w.c(group);
          Lanes::template values<Weights>(reinterpret_cast<const std::uint8_t*>(row + t * words),
                                          [&](int v, vec values_v) { acc[t][v] = Lanes::fma(values_v, xa, acc[t][v]); });
        }
      }
      alignas(64) float sums[T * gs];
      LOWBIT_UNROLL_GCC
      for (int t = 0; t < T; ++t) {
        LOWBIT_UNROLL_GCC
        for (int v = 0; v < V; ++v) Lanes::store(sums + t * gs + v * Lanes::width, acc[t][v]);
      }
      float* y = p.y + m * p.N + (first + g0) * gs;
      for (int t = 0; t < T; ++t) {
        for (int i = 0; i < gs; ++i) {  // element i: lane (i % block) / s of vector (i % block) % s of its block
          const int r = i % block;
          y[t * gs + i] = sums[t * gs + i - r + r % s * Lanes::width + r / s] + bias[t];
        }
      }
    }
  }

  // sum_k c[k] * s[k] for k < n, in lanes.
  static LOWBIT_ALWAYS_INLINE float dot(const float* c, const float* s, std::size_t n) noexcept {
    typename Lanes::vec acc = Lanes::zero();
    std::size_t k = 0;
    for (; k + Lanes::width <= n; k += Lanes::width) acc = Lanes::fma(Lanes::load(c + k), Lanes::load(s + k), acc);
    float sum = Lanes::sum(acc);
    for (; k < n; ++k) sum += c[k] * s[k];
    return sum;
  }

  // Groups [g0, g0 + n) of R rows of W into columns column .. column + R - 1 of MB rows of y from m0,
  // which they start (g0 == 0) or add to.
  template <int MB, int R, class Weights>
  static LOWBIT_NOINLINE void block(const std::uint32_t* const* codes, const float (*a)[chunk],
                                         const float (*c)[chunk], std::size_t n, const matmul_problem& p,
                                         std::size_t g0, std::size_t column, std::size_t m0) noexcept {
    using vec = typename Lanes::vec;
    constexpr int gs = Weights::group_size;
    const std::size_t groups = p.K / gs;
    vec total[MB][R];
    LOWBIT_UNROLL_GCC
    for (int j = 0; j < MB; ++j) {
      LOWBIT_UNROLL_GCC
      for (int i = 0; i < R; ++i) total[j][i] = Lanes::zero();
    }
    for (std::size_t g = 0; g < n; ++g) {
      const float* x = p.x + m0 * p.K + (g0 + g) * gs;
      // One accumulator per row of x and of W: R * MB chains of FMAs are enough to fill the pipelines
      // (and how rows are split between threads then changes no bit).
      vec acc[MB][R];
      LOWBIT_UNROLL_GCC
      for (int j = 0; j < MB; ++j) {
        LOWBIT_UNROLL_GCC
        for (int i = 0; i < R; ++i) acc[j][i] = Lanes::zero();  // overwritten by the first product
      }
      LOWBIT_UNROLL_GCC
      for (int i = 0; i < R; ++i) {
        // Each row's codes are requested ahead: the hardware prefetchers alone keep too few lines in
        // flight for a weight beyond the cache (a prefetch past the array is harmless).
        LOWBIT_PREFETCH(reinterpret_cast<const char*>(codes[i] + g * Weights::words) + prefetch_distance);
        Lanes::template values<Weights>(
            reinterpret_cast<const std::uint8_t*>(codes[i] + g * Weights::words), [&](int v, vec values_v) {
              LOWBIT_UNROLL_GCC
              for (int j = 0; j < MB; ++j) {
                const vec xv = Lanes::load(x + j * p.K + v * Lanes::width);
                acc[j][i] = v == 0 ? Lanes::mul(values_v, xv) : Lanes::fma(values_v, xv, acc[j][i]);
              }
            });
      }
      LOWBIT_UNROLL_GCC
      for (int i = 0; i < R; ++i) {
        const vec ai = Lanes::set1(a[i][g]);
        LOWBIT_UNROLL_GCC
        for (int j = 0; j < MB; ++j) total[j][i] = Lanes::fma(ai, acc[j][i], total[j][i]);
      }
    }
    LOWBIT_UNROLL_GCC
    for (int j = 0; j < MB; ++j) {
      LOWBIT_UNROLL_GCC
      for (int i = 0; i < R; ++i) {
        float& y = p.y[(m0 + j) * p.N + column + static_cast<std::size_t>(i)];
        float part = Lanes::sum(total[j][i]);
        if constexpr (!is_fp_weights<Weights>::value) part += dot(c[i], p.xsum + (m0 + j) * groups + g0, n);
        y = g0 == 0 ? part : y + part;
      }
    }
  }
};

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_DETAIL_MATMUL_HPP
