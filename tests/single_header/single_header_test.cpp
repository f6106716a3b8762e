// The single header (single_include/lowbit/lowbit.hpp) on its own. This translation unit is built with
// single_include/ as its only lowbit include directory, once per instruction-set variant the machine can
// run (tests/CMakeLists.txt): each build must select the backend the compiler targets, and reproduce every
// MLX affine golden file bit for bit through the vendored copy.
#include <lowbit/lowbit.hpp>

#ifndef LOWBIT_SINGLE_HEADER
#error "this test must see single_include/lowbit/lowbit.hpp, not include/lowbit/lowbit.hpp"
#endif
#if __has_include(<lowbit/config.hpp>)
#error "include/ is on the include path: the single-header test must see single_include/ only"
#endif

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "golden.hpp"
#include "test_util.hpp"

namespace {

using lowbit_test::bit_equal;
using lowbit_test::golden_case;

// The backend config.hpp selects from the compiler's predefined macros, written out independently of
// config.hpp so that a single header that lost a backend fails here.
std::string expected_backend() {
#if defined(LOWBIT_FORCE_SCALAR)
  return "scalar";
#elif defined(__AVX512F__) && defined(__AVX512BW__)
#if defined(__AVX512VBMI__) && defined(__AVX512VL__)
  return "avx512-vbmi";
#else
  return "avx512";
#endif
#elif defined(__AVX2__) && defined(__F16C__)
  return "avx2";
#elif defined(__aarch64__) && defined(__ARM_NEON)
  std::string name = "neon";
#if defined(__ARM_FEATURE_FP16_VECTOR_ARITHMETIC)
  name += "-fp16";
#endif
#if defined(__ARM_FEATURE_BF16_VECTOR_ARITHMETIC)
  name += "-bf16";
#endif
  return name;
#else
  return "scalar";
#endif
}

TEST(SingleHeader, SelectsTheBackendTheCompilerTargets) {
  EXPECT_EQ(lowbit::backend_name(), expected_backend());
  std::printf("[ single   ] lowbit %s single header, backend %s\n", LOWBIT_VERSION_STRING, lowbit::backend_name());
}

class SingleHeaderGolden : public ::testing::TestWithParam<golden_case> {};

// MLX's dequantize (wd, and wd_f32 where MLX wrote it) through the run-time and compile-time overloads;
// the other output types follow from wd by the rule's exact conversion step.
TEST_P(SingleHeaderGolden, DequantizeMatchesMlx) {
  const golden_case& c = GetParam();
  const auto f = lowbit_tools::file::open(c.path());
  const std::size_t rows = f.at("wq").rows(), cols = f.at("wd").cols();
  const auto wq = f.at("wq").copy_as<std::uint32_t>();
  lowbit_test::with_dtype(f.at("scales").dtype, [&](auto tag) {
    using S = typename decltype(tag)::type;
    const auto scales = f.at("scales").copy_as<S>();
    const auto biases = f.at("biases").copy_as<S>();
    const auto wd = f.at("wd").copy_as<S>();
    std::vector<S> out(rows * cols);
    lowbit::dequantize(wq.data(), scales.data(), biases.data(), out.data(), rows, cols, c.bits, c.group_size);
    EXPECT_TRUE(bit_equal(out, wd, c.file + " run-time dequantize"));

    std::vector<S> out_ct(rows * cols);
    lowbit::detail::with_config(c.bits, c.group_size, [&](auto b, auto g) {
      lowbit::dequantize<decltype(b)::value, decltype(g)::value>(wq.data(), scales.data(), biases.data(),
                                                                 out_ct.data(), rows, cols);
    });
    EXPECT_TRUE(bit_equal(out_ct, wd, c.file + " compile-time dequantize"));

    std::vector<float> out_f32(rows * cols), want_f32;
    lowbit::dequantize(wq.data(), scales.data(), biases.data(), out_f32.data(), rows, cols, c.bits, c.group_size);
    if (f.contains("wd_f32")) {
      want_f32 = f.at("wd_f32").copy_as<float>();
    } else {
      for (const S& v : wd) want_f32.push_back(static_cast<float>(v));
    }
    EXPECT_TRUE(bit_equal(out_f32, want_f32, c.file + " float32 output"));

    std::vector<lowbit::half> out_h(rows * cols), want_h;
    lowbit::dequantize(wq.data(), scales.data(), biases.data(), out_h.data(), rows, cols, c.bits, c.group_size);
    for (const S& v : wd) want_h.push_back(lowbit::half(static_cast<float>(v)));
    EXPECT_TRUE(bit_equal(out_h, want_h, c.file + " half output"));

    std::vector<lowbit::bfloat16> out_b(rows * cols), want_b;
    lowbit::dequantize(wq.data(), scales.data(), biases.data(), out_b.data(), rows, cols, c.bits, c.group_size);
    for (const S& v : wd) want_b.push_back(lowbit::bfloat16(static_cast<float>(v)));
    EXPECT_TRUE(bit_equal(out_b, want_b, c.file + " bfloat16 output"));
  });
}

TEST_P(SingleHeaderGolden, QuantizeMatchesMlx) {
  const golden_case& c = GetParam();
  const auto f = lowbit_tools::file::open(c.path());
  const std::size_t rows = f.at("w").rows(), cols = f.at("w").cols();
  lowbit_test::with_dtype(f.at("w").dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto w = f.at("w").copy_as<T>();
    std::vector<std::uint32_t> wq(f.at("wq").bytes / 4);
    std::vector<T> scales(rows * cols / c.group_size), biases(scales.size());
    lowbit::quantize(w.data(), wq.data(), scales.data(), biases.data(), rows, cols, c.bits, c.group_size);
    EXPECT_EQ(wq, f.at("wq").copy_as<std::uint32_t>()) << c.file << " packed words";
    EXPECT_TRUE(bit_equal(scales, f.at("scales").copy_as<T>(), c.file + " scales"));
    EXPECT_TRUE(bit_equal(biases, f.at("biases").copy_as<T>(), c.file + " biases"));
  });
}

INSTANTIATE_TEST_SUITE_P(Mlx, SingleHeaderGolden, ::testing::ValuesIn(lowbit_test::golden_cases("affine")),
                         [](const auto& info) { return lowbit_test::golden_test_name(info.param); });

TEST(SingleHeader, SeesEveryAffineGoldenFile) { EXPECT_EQ(lowbit_test::golden_cases("affine").size(), 55u); }

}  // namespace
