// The public API: shapes at the edges, round trips (1 and 7 bits included), defaults, and the
// platform's own 2-byte types read and written in place.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "test_util.hpp"

namespace {

using lowbit::bfloat16;
using lowbit::half;
using lowbit_test::bit_equal;
using lowbit_test::random_source;

// A random quantized matrix.
template <class S>
struct packed {
  std::size_t rows, cols;
  int bits, group_size;
  std::vector<std::uint32_t> wq;
  std::vector<S> scales, biases;
  packed(std::size_t r, std::size_t c, int b, int g, std::uint64_t seed) : rows(r), cols(c), bits(b), group_size(g) {
    random_source rs(seed);
    wq = rs.words(r * c * b / 32);
    scales = rs.normal<S>(r * c / g, 0.01f);
    biases = rs.normal<S>(r * c / g, 0.1f);
  }
  template <class O>
  std::vector<O> dequantize() const {
    std::vector<O> out(rows * cols);
    lowbit::dequantize(wq.data(), scales.data(), biases.data(), out.data(), rows, cols, bits, group_size);
    return out;
  }
};

TEST(Shapes, EmptyMatricesWriteNothing) {
  std::vector<float> out(4, 42.0f);
  const std::uint32_t wq[1] = {0};
  const float s[1] = {1}, b[1] = {1};
  lowbit::dequantize(wq, s, b, out.data(), 0, 64);
  lowbit::dequantize(wq, s, b, out.data(), 3, 0);
  lowbit::dequantize<4, 64>(wq, s, b, out.data(), 0, 0);
  lowbit::dequantize<float, float>(nullptr, nullptr, nullptr, nullptr, 0, 128);  // no data needed: no-op
  for (float v : out) EXPECT_EQ(v, 42.0f);
}

TEST(Shapes, RowsAreIndependentSlices) {
  // rows x cols in one call equals one call per row (offsets of wq, scales, biases and out agree),
  // for one-group rows, odd row counts and several group sizes.
  for (int group_size : {32, 64, 128}) {
    for (std::size_t rows : {1u, 3u, 17u}) {
      for (std::size_t groups_per_row : {1u, 3u}) {
        const std::size_t cols = groups_per_row * group_size;
        const packed<half> m(rows, cols, 3, group_size, rows * 100 + cols);
        const auto whole = m.dequantize<float>();
        std::vector<float> by_row(rows * cols);
        const std::size_t words_per_row = lowbit::format::words_per_row(cols, 3);
        for (std::size_t r = 0; r < rows; ++r) {
          lowbit::dequantize(m.wq.data() + r * words_per_row, m.scales.data() + r * groups_per_row,
                             m.biases.data() + r * groups_per_row, by_row.data() + r * cols, 1, cols, 3, group_size);
        }
        EXPECT_TRUE(bit_equal(whole, by_row, "rows " + std::to_string(rows) + ", cols " + std::to_string(cols)));
      }
    }
  }
}

TEST(Shapes, LeadingDimensionsFlattenIntoRows) {
  // A 2 x 8 x 256 weight is 16 rows of 256: one call over 16 rows equals two calls over 8.
  const packed<bfloat16> m(16, 256, 4, 64, 7);
  const auto whole = m.dequantize<bfloat16>();
  std::vector<bfloat16> halves(16 * 256);
  for (std::size_t batch = 0; batch < 2; ++batch) {
    lowbit::dequantize(m.wq.data() + batch * 8 * 32, m.scales.data() + batch * 8 * 4, m.biases.data() + batch * 8 * 4,
                       halves.data() + batch * 8 * 256, 8, 256);
  }
  EXPECT_TRUE(bit_equal(whole, halves, "2 x 8 x 256"));
}

TEST(Api, DefaultsAreMlxDefaults) {
  const packed<float> m(2, 128, 4, 64, 3);
  std::vector<float> with_defaults(256), explicit_args(256), compile_time(256);
  lowbit::dequantize(m.wq.data(), m.scales.data(), m.biases.data(), with_defaults.data(), 2, 128);
  lowbit::dequantize(m.wq.data(), m.scales.data(), m.biases.data(), explicit_args.data(), 2, 128, 4, 64);
  lowbit::dequantize<4, 64>(m.wq.data(), m.scales.data(), m.biases.data(), compile_time.data(), 2, 128);
  EXPECT_TRUE(bit_equal(with_defaults, explicit_args, "defaults vs (4, 64)"));
  EXPECT_TRUE(bit_equal(compile_time, explicit_args, "compile-time vs run-time"));
  EXPECT_EQ(lowbit::default_bits, 4);
  EXPECT_EQ(lowbit::default_group_size, 64);
}

TEST(Api, ScalarReferenceHasTheSameApi) {
  const packed<half> m(3, 128, 5, 32, 11);
  std::vector<half> a(3 * 128), b(3 * 128), c(3 * 128);
  lowbit::scalar::dequantize(m.wq.data(), m.scales.data(), m.biases.data(), a.data(), 3, 128, 5, 32);
  lowbit::scalar::dequantize<5, 32>(m.wq.data(), m.scales.data(), m.biases.data(), b.data(), 3, 128);
  lowbit::dequantize(m.wq.data(), m.scales.data(), m.biases.data(), c.data(), 3, 128, 5, 32);
  EXPECT_TRUE(bit_equal(a, b, "scalar run-time vs compile-time"));
  EXPECT_TRUE(bit_equal(c, a, std::string("active backend ") + lowbit::backend_name() + " vs scalar"));
}

// Resolution of T relative to a value's magnitude (half an ulp is the most one rounding loses).
template <class T>
double relative_eps() {
  return std::is_same<T, float>::value ? std::ldexp(1.0, -24) : std::is_same<T, half>::value ? std::ldexp(1.0, -11)
                                                                                             : std::ldexp(1.0, -8);
}

// quantize then dequantize: every element within one quantization step of the original (plus what
// rounding the scale, the bias and the result to T can add), and for float on average within half a
// step (each value is rounded to its nearest grid point, except where the grid is clamped at an edge).
template <class T>
void check_round_trip(int bits, int group_size) {
  const std::size_t rows = 5, cols = 4 * static_cast<std::size_t>(group_size);
  random_source rs(static_cast<std::uint64_t>(bits * 1000 + group_size));
  const auto w = rs.normal<T>(rows * cols, 1.0f);
  std::vector<std::uint32_t> wq(rows * cols * bits / 32);
  std::vector<T> scales(rows * cols / group_size), biases(rows * cols / group_size), back(rows * cols);
  lowbit::quantize(w.data(), wq.data(), scales.data(), biases.data(), rows, cols, bits, group_size);
  lowbit::dequantize(wq.data(), scales.data(), biases.data(), back.data(), rows, cols, bits, group_size);
  double total_steps = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double step = std::fabs(static_cast<double>(static_cast<float>(scales[i / group_size])));
    const double bias = std::fabs(static_cast<double>(static_cast<float>(biases[i / group_size])));
    const double value = std::fabs(static_cast<double>(static_cast<float>(w[i])));
    const double err = std::fabs(static_cast<double>(static_cast<float>(back[i])) - static_cast<float>(w[i]));
    const double rounding = 4 * relative_eps<T>() * (value + bias + step * lowbit::format::max_code(bits));
    ASSERT_LE(err, step + rounding) << "bits " << bits << ", group_size " << group_size << ", element " << i;
    total_steps += err / step;
  }
  if (std::is_same<T, float>::value) {
    EXPECT_LT(total_steps / static_cast<double>(w.size()), 0.35) << "bits " << bits << ", group_size " << group_size;
  }
}

TEST(RoundTrip, AllBitsWithinOneStep) {
  for (int bits = 1; bits <= 8; ++bits) {
    for (int group_size : {32, 64, 128}) {
      check_round_trip<float>(bits, group_size);
      check_round_trip<half>(bits, group_size);
      check_round_trip<bfloat16>(bits, group_size);
    }
  }
}

TEST(RoundTrip, OneAndSevenBitsThroughTheCompileTimeApi) {
  // 1 bit: two levels per group, the group's edge and zero (MLX's grid always holds 0 exactly: the
  // edge is q0 whole steps from it); 7 bits: 128 levels.
  const std::size_t rows = 3, cols = 128;
  std::vector<float> w(rows * cols);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = (i % 3 == 0) ? 0.0f : 1.5f;  // exactly two values
  std::vector<std::uint32_t> wq1(rows * cols / 32);
  std::vector<float> s1(rows * cols / 64), b1(rows * cols / 64), back(rows * cols);
  lowbit::quantize(w.data(), wq1.data(), s1.data(), b1.data(), rows, cols, 1, 64);
  lowbit::dequantize<1, 64>(wq1.data(), s1.data(), b1.data(), back.data(), rows, cols);
  EXPECT_TRUE(bit_equal(back, w, "1-bit round trip of a two-valued matrix"));

  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 128) * 0.25f - 8.0f;  // on a 128-grid
  std::vector<std::uint32_t> wq7(rows * cols * 7 / 32);
  std::vector<float> s7(rows), b7(rows);
  lowbit::quantize(w.data(), wq7.data(), s7.data(), b7.data(), rows, cols, 7, 128);
  lowbit::dequantize<7, 128>(wq7.data(), s7.data(), b7.data(), back.data(), rows, cols);
  EXPECT_TRUE(bit_equal(back, w, "7-bit round trip of values on the quantization grid"));
}

#if LOWBIT_HAS_FLOAT16
TEST(PlatformTypes, Float16ArraysAreUsedInPlace) {
  const packed<half> m(3, 64, 4, 64, 5);
  std::vector<_Float16> s16(m.scales.size()), b16(m.biases.size()), out16(3 * 64);
  for (std::size_t i = 0; i < s16.size(); ++i) {
    s16[i] = static_cast<_Float16>(static_cast<float>(m.scales[i]));
    b16[i] = static_cast<_Float16>(static_cast<float>(m.biases[i]));
  }
  lowbit::dequantize(m.wq.data(), s16.data(), b16.data(), out16.data(), 3, 64);
  const auto want = m.dequantize<half>();
  for (std::size_t i = 0; i < want.size(); ++i) {
    std::uint16_t got;
    std::memcpy(&got, &out16[i], 2);
    ASSERT_EQ(got, want[i].to_bits()) << i;
  }
}
#endif

}  // namespace
