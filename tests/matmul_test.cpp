// quantized_matmul against a float64 reference under the error bound of lowbit/matmul.hpp, for every kernel
// set compiled into this build: bits 1..8 x group sizes x scale types x both layouts x shapes with M in
// {1, 2, 3, 8, 33}, odd N and K from one group to thousands; the 27 input/scale/output type triples; the fp
// modes; special values; errors and empty shapes; threads and executors.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace {

using lowbit::bfloat16;
using lowbit::half;
using lowbit::mode;
using lowbit_test::random_source;

struct shape {
  std::size_t M, N, K;
};

// A weight's rows x cols codes (rows x cols / group_size groups) and the exact value of each element.
struct weight_view {
  const std::uint32_t* wq;
  std::size_t rows, cols;
  int bits, group_size;
  std::function<void(std::size_t group, double& a, double& c)> factors;
  std::function<double(std::uint32_t code)> value;
  double w(std::size_t r, std::size_t k, double& magnitude) const {
    double a = 0, c = 0;
    factors(r * (cols / static_cast<std::size_t>(group_size)) + k / static_cast<std::size_t>(group_size), a, c);
    const double v = value(lowbit::format::code_at(wq + r * (cols * static_cast<std::size_t>(bits) / 32), k, bits));
    magnitude = std::fabs(a * v) + std::fabs(c);
    return a * v + c;
  }
};

// |y - y*| <= gamma(K + 2) * sum (|a v| + |c|) |x| + ulp_Y(y*) / 2 for every output, and y non-finite
// exactly where y* is.
template <class X, class Y>
::testing::AssertionResult within_bound(const std::vector<X>& x, const weight_view& w, const std::vector<Y>& y,
                                        const shape& s, bool transpose) {
  const double u = std::ldexp(1.0, -24), n = static_cast<double>(s.K + 2), gamma = n * u / (1 - n * u);
  // Half an ulp of Y: relative for normal numbers, half the subnormal spacing below them.
  const double half_ulp = std::is_same<Y, float>::value ? u : std::is_same<Y, half>::value ? std::ldexp(1.0, -11)
                                                                                             : std::ldexp(1.0, -8);
  const double half_tiny = std::is_same<Y, float>::value ? std::ldexp(1.0, -150)
                           : std::is_same<Y, half>::value ? std::ldexp(1.0, -25)
                                                          : std::ldexp(1.0, -134);
  for (std::size_t m = 0; m < s.M; ++m) {
    for (std::size_t j = 0; j < s.N; ++j) {
      double exact = 0, magnitude = 0;
      for (std::size_t k = 0; k < s.K; ++k) {
        double mag = 0;
        const double xv = static_cast<double>(static_cast<float>(x[m * s.K + k]));
        exact += (transpose ? w.w(j, k, mag) : w.w(k, j, mag)) * xv;
        magnitude += mag * std::fabs(xv);
      }
      const double got = static_cast<double>(static_cast<float>(y[m * s.N + j]));
      if (!std::isfinite(exact) || !std::isfinite(got)) {
        if (std::isfinite(exact) != std::isfinite(got)) {
          return ::testing::AssertionFailure() << "y[" << m << "][" << j << "] = " << got << ", exact " << exact;
        }
        continue;
      }
      const double bound = gamma * magnitude + std::max(half_ulp * std::fabs(exact), half_tiny);
      if (std::fabs(got - exact) > bound) {
        return ::testing::AssertionFailure() << "y[" << m << "][" << j << "] = " << got << ", exact " << exact
                                             << ", error " << std::fabs(got - exact) << " > bound " << bound;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

template <class Kernels, class X, class S, class Y>
void check_affine(int bits, int group_size, shape s, bool transpose, std::uint64_t seed) {
  random_source rs(seed);
  const std::size_t rows = transpose ? s.N : s.K, cols = transpose ? s.K : s.N;
  const auto wq = rs.words(rows * cols * static_cast<std::size_t>(bits) / 32 + 1);
  const auto scales = rs.normal<S>(rows * cols / group_size + 1, 0.02f);
  const auto biases = rs.normal<S>(rows * cols / group_size + 1, 0.2f);
  const auto x = rs.normal<X>(s.M * s.K + 1, 1.0f);
  std::vector<Y> y(s.M * s.N + 1, lowbit_test::from_float<Y>(-7.0f));
  lowbit::detail::quantized_matmul_affine<Kernels>(x.data(), wq.data(), scales.data(), biases.data(), y.data(), s.M,
                                                   s.N, s.K, transpose, lowbit::detail::config_options(bits, group_size));
  const weight_view w{wq.data(), rows, cols, bits, group_size,
                      [&](std::size_t g, double& a, double& c) {
                        a = static_cast<float>(scales[g]);
                        c = static_cast<float>(biases[g]);
                      },
                      [](std::uint32_t q) { return static_cast<double>(q); }};
  EXPECT_TRUE(within_bound(x, w, y, s, transpose))
      << Kernels::name << ": bits " << bits << ", group_size " << group_size << ", " << lowbit::detail::type_name<X>()
      << " x " << lowbit::detail::type_name<S>() << " -> " << lowbit::detail::type_name<Y>() << ", M " << s.M << " N "
      << s.N << " K " << s.K << (transpose ? ", transposed" : "");
  EXPECT_EQ(lowbit_test::bits_of(y[s.M * s.N]), lowbit_test::bits_of(lowbit_test::from_float<Y>(-7.0f)))
      << "wrote past y";
}

template <class Kernels, int Bits>
void check_bits() {
  std::uint64_t seed = Bits * 1000;
  for (int gs : {32, 64, 128}) {
    const std::size_t g = static_cast<std::size_t>(gs);
    const shape transposed[] = {{1, 7, g}, {2, 33, 3 * g}, {3, 5, 8 * g}, {8, 3, 2 * g}, {33, 2, g}};
    const shape plain[] = {{1, g, g}, {2, 3 * g, 3}, {3, g, 7}, {8, 2 * g, 2}, {33, g, 1}};
    for (int t = 0; t < 5; ++t) {
      check_affine<Kernels, float, float, float>(Bits, gs, transposed[t], true, ++seed);
      check_affine<Kernels, float, half, float>(Bits, gs, transposed[t], true, ++seed);
      check_affine<Kernels, float, bfloat16, float>(Bits, gs, transposed[t], true, ++seed);
      check_affine<Kernels, float, half, float>(Bits, gs, plain[t], false, ++seed);
      check_affine<Kernels, half, float, half>(Bits, gs, plain[t], false, ++seed);
    }
  }
}

template <class Kernels>
class Matmul : public ::testing::Test {};
TYPED_TEST_SUITE(Matmul, lowbit_test::compiled_kernel_types, lowbit_test::kernel_set_name);

TYPED_TEST(Matmul, Bits1To4WithinTheBound) {
  check_bits<TypeParam, 1>();
  check_bits<TypeParam, 2>();
  check_bits<TypeParam, 3>();
  check_bits<TypeParam, 4>();
}
TYPED_TEST(Matmul, Bits5To8WithinTheBound) {
  check_bits<TypeParam, 5>();
  check_bits<TypeParam, 6>();
  check_bits<TypeParam, 7>();
  check_bits<TypeParam, 8>();
}

TYPED_TEST(Matmul, LongRowsAndEveryTypeTriple) {
  check_affine<TypeParam, float, half, float>(4, 64, {1, 3, 4096}, true, 7);
  check_affine<TypeParam, bfloat16, bfloat16, bfloat16>(8, 128, {2, 5, 2048}, true, 8);
  check_affine<TypeParam, float, half, float>(4, 64, {1, 128, 1024}, false, 9);
  std::uint64_t seed = 10;
  lowbit_test::for_each_type_pair([&](auto xt, auto st) {
    using X = typename decltype(xt)::type;
    using S = typename decltype(st)::type;
    check_affine<TypeParam, X, S, float>(4, 64, {3, 5, 128}, true, ++seed);
    check_affine<TypeParam, X, S, half>(3, 32, {2, 3, 96}, true, ++seed);
    check_affine<TypeParam, X, S, bfloat16>(4, 64, {2, 64, 5}, false, ++seed);
  });
}

template <class Kernels, class Y>
void check_fp(mode m, const float* global_scale, shape s, bool transpose, std::uint64_t seed) {
  random_source rs(seed);
  const int bits = lowbit::mode_bits(m), gs = lowbit::mode_group_size(m);
  const std::size_t rows = transpose ? s.N : s.K, cols = transpose ? s.K : s.N;
  const auto wq = rs.words(rows * cols * static_cast<std::size_t>(bits) / 32);
  std::vector<std::uint8_t> scales(rows * cols / static_cast<std::size_t>(gs));
  // Scales that keep the products inside half's range: 2^-15 .. 1 for E8M0, up to 240 for E4M3.
  for (auto& c : scales) c = static_cast<std::uint8_t>(m == mode::nvfp4 ? rs.engine() % 120 : rs.engine() % 16 + 112);
  const auto x = rs.normal<float>(s.M * s.K, 1.0f);
  std::vector<Y> y(s.M * s.N);
  lowbit::detail::quantized_matmul_fp<Kernels>(m, x.data(), wq.data(), scales.data(), y.data(), s.M, s.N, s.K,
                                               transpose, global_scale, lowbit::options());
  const float decode = global_scale != nullptr ? *global_scale / 2688.0f : 0.0f;
  const weight_view w{wq.data(), rows, cols, bits, gs,
                      [&](std::size_t g, double& a, double& c) {
                        namespace fp = lowbit::detail::fp;
                        a = global_scale != nullptr ? fp::global_scale_factor(scales[g], decode)
                            : m == mode::nvfp4      ? fp::e4m3_values[scales[g]]
                                                    : std::ldexp(1.0, scales[g] - 127);
                        c = 0;
                      },
                      [m](std::uint32_t q) {
                        return static_cast<double>(m == mode::mxfp8 ? lowbit::detail::fp::e4m3_values[q]
                                                                    : lowbit::detail::fp::e2m1_values[q]);
                      }};
  EXPECT_TRUE(within_bound(x, w, y, s, transpose))
      << Kernels::name << ": " << lowbit::mode_name(m) << " -> " << lowbit::detail::type_name<Y>() << ", M " << s.M
      << " N " << s.N << " K " << s.K << (transpose ? ", transposed" : "") << (global_scale ? ", global scale" : "");
}

TYPED_TEST(Matmul, FpModesWithinTheBound) {
  const float g = 5.5f;
  std::uint64_t seed = 50;
  for (bool transpose : {true, false}) {
    for (mode m : {mode::mxfp4, mode::nvfp4, mode::mxfp8}) {
      const std::size_t gs = static_cast<std::size_t>(lowbit::mode_group_size(m));
      const shape s = transpose ? shape{3, 7, 5 * gs} : shape{2, 3 * gs, 9};
      check_fp<TypeParam, float>(m, nullptr, s, transpose, ++seed);
      check_fp<TypeParam, half>(m, nullptr, s, transpose, ++seed);
      check_fp<TypeParam, bfloat16>(m, nullptr, s, transpose, ++seed);
    }
    const shape s = transpose ? shape{2, 5, 64} : shape{2, 32, 7};
    check_fp<TypeParam, float>(mode::nvfp4, &g, s, transpose, ++seed);
  }
}

TEST(Matmul, NonFiniteScalesGiveNonFiniteOutputs) {
  const std::size_t M = 2, N = 3, K = 128;
  random_source rs(1);
  const auto wq = rs.words(N * K / 8);
  auto scales = rs.normal<half>(N * K / 64, 0.02f);
  const auto biases = rs.normal<half>(N * K / 64, 0.2f);
  scales[2] = half::from_bits(0x7c00);  // row 1, group 0: +Inf
  const auto x = rs.normal<float>(M * K, 1.0f);
  std::vector<float> y(M * N);
  lowbit::quantized_matmul(x.data(), wq.data(), scales.data(), biases.data(), y.data(), M, N, K);
  for (std::size_t m = 0; m < M; ++m) {
    EXPECT_TRUE(std::isfinite(y[m * N]) && std::isfinite(y[m * N + 2]));
    EXPECT_FALSE(std::isfinite(y[m * N + 1]));
  }
}

TEST(Matmul, ErrorsAndEmptyShapes) {
  std::vector<std::uint32_t> wq(64);
  std::vector<float> s(8, 1.0f), b(8, 0.0f), x(256, 1.0f), y(16, 3.0f);
  auto call = [&](std::size_t M, std::size_t N, std::size_t K, int bits, int gs, bool transpose = true) {
    lowbit::quantized_matmul(x.data(), wq.data(), s.data(), b.data(), y.data(), M, N, K, transpose, bits, gs);
  };
  auto message = [&](auto&& f) -> std::string {
    try {
      f();
    } catch (const lowbit::error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(message([&] { call(1, 2, 64, 9, 64); }),
            "[lowbit::quantized_matmul] bits 9 is not supported; supported: 1, 2, 3, 4, 5, 6, 7, 8 (MLX ships 2, 3, "
            "4, 5, 6, 8)");
  EXPECT_EQ(message([&] { call(1, 2, 64, 4, 48); }),
            "[lowbit::quantized_matmul] group_size 48 is not supported; supported: 32, 64, 128");
  EXPECT_EQ(message([&] { call(1, 2, 96, 4, 64); }),
            "[lowbit::quantized_matmul] K 96 (the quantized dimension) is not a multiple of group_size 64");
  EXPECT_EQ(message([&] { call(1, 96, 2, 4, 64, false); }),
            "[lowbit::quantized_matmul] N 96 (the quantized dimension) is not a multiple of group_size 64");
  EXPECT_EQ(message([&] {
              lowbit::quantized_matmul(x.data(), wq.data(), s.data(), static_cast<const float*>(nullptr), y.data(),
                                       1, 2, 64);
            }),
            "[lowbit::quantized_matmul] biases is null but the weight (N x K) = 2 x 64 is not empty");
  EXPECT_EQ(message([&] {
              lowbit::quantized_matmul(static_cast<const float*>(nullptr), wq.data(), s.data(), b.data(), y.data(),
                                       1, 2, 64);
            }),
            "[lowbit::quantized_matmul] x is null but x (M x K) = 1 x 64 is not empty");
  const float g = 2.0f;
  std::vector<std::uint8_t> codes(8, 127);
  EXPECT_EQ(message([&] {
              lowbit::quantized_matmul(mode::mxfp4, x.data(), wq.data(), codes.data(), y.data(), 1, 2, 32, true, &g);
            }),
            "[lowbit::quantized_matmul] global_scale is only used by nvfp4; mode mxfp4 takes none (pass nullptr)");
  EXPECT_NE(message([&] { lowbit::quantized_matmul(mode::affine, x.data(), wq.data(), codes.data(), y.data(), 1, 2, 32); }),
            "no error");
  for (float v : y) EXPECT_EQ(v, 3.0f) << "an error wrote to y";

  call(0, 2, 64, 4, 64);  // M x N empty: nothing written, nothing read
  call(2, 0, 64, 4, 64);
  lowbit::quantized_matmul(x.data(), static_cast<const std::uint32_t*>(nullptr), static_cast<const float*>(nullptr),
                           static_cast<const float*>(nullptr), y.data(), 2, 3, 0);  // K = 0: y = 0
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(y[i], 0.0f);
  EXPECT_EQ(y[6], 3.0f);
}

TEST(Matmul, ThreadsAndExecutorsAreBitIdentical) {
  const std::size_t M = 3, N = 2100, K = 1024;  // over 2^20 weights: two threads
  random_source rs(2);
  const auto wq = rs.words(N * K / 8);
  const auto scales = rs.normal<half>(N * K / 64, 0.02f);
  const auto biases = rs.normal<half>(N * K / 64, 0.2f);
  const auto x = rs.normal<float>(M * N, 1.0f);  // N > K: enough for both layouts
  for (bool transpose : {true, false}) {
    const std::size_t n = transpose ? N : K, k = transpose ? K : N;  // the product's N and K
    std::vector<float> want(M * n), got(M * n);
    lowbit::quantized_matmul(x.data(), wq.data(), scales.data(), biases.data(), want.data(), M, n, k, transpose);
    lowbit::options opt;
    opt.threads = 2;
    lowbit::quantized_matmul(x.data(), wq.data(), scales.data(), biases.data(), got.data(), M, n, k, transpose, opt);
    EXPECT_TRUE(lowbit_test::bit_equal(got, want, "2 threads"));
    std::atomic<std::size_t> tasks{0};
    opt.executor = [&](std::size_t count, const std::function<void(std::size_t, std::size_t)>& task) {
      for (std::size_t i = count; i-- > 0;) task(i, i + 1), ++tasks;
    };
    std::fill(got.begin(), got.end(), -1.0f);
    lowbit::quantized_matmul(x.data(), wq.data(), scales.data(), biases.data(), got.data(), M, n, k, transpose, opt);
    EXPECT_GT(tasks.load(), 1u);
    EXPECT_TRUE(lowbit_test::bit_equal(got, want, "executor, tasks in reverse"));
  }
}

}  // namespace
