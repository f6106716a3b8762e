// Links a reference unit and a SIMD unit built with different flags; calls both; checks both names and
// that both results are identical. The SIMD unit only runs when this CPU can execute it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "../test_util.hpp"
#include "odr.hpp"

namespace {

bool cpu_runs_simd_unit() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx2") &&
         __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#elif defined(__aarch64__) && defined(__linux__)
  return (getauxval(AT_HWCAP) & HWCAP_ASIMDHP) != 0;
#else
  return false;
#endif
}

TEST(Odr, TwoUnitsWithDifferentFlagsLinkAndAgree) {
  const odr::unit reference = odr::reference_unit();
  const std::string reference_name = reference.backend_name();
#if defined(__x86_64__) || defined(__i386__)
  EXPECT_EQ(reference_name, "scalar");
#else
  EXPECT_EQ(reference_name, "neon");
#endif
  if (!cpu_runs_simd_unit()) GTEST_SKIP() << "this CPU cannot run the SIMD unit";
  const odr::unit simd = odr::simd_unit();
  const std::string simd_name = simd.backend_name();
#if defined(__x86_64__) || defined(__i386__)
  EXPECT_EQ(simd_name.substr(0, 6), "avx512");
#else
  EXPECT_EQ(simd_name.substr(0, 9), "neon-fp16");
#endif

  lowbit_test::random_source rs(42);
  const std::size_t rows = 9, cols = 512;
  const auto wq = rs.words(rows * cols / 8);
  const auto scales = rs.normal<lowbit::half>(rows * cols / 64, 0.02f);
  const auto biases = rs.normal<lowbit::half>(rows * cols / 64, 0.2f);
  std::vector<lowbit::half> a(rows * cols), b(rows * cols);
  reference.dequantize(wq.data(), scales.data(), biases.data(), a.data(), rows, cols);
  simd.dequantize(wq.data(), scales.data(), biases.data(), b.data(), rows, cols);
  EXPECT_TRUE(lowbit_test::bit_equal(b, a, simd_name + " unit vs " + reference_name + " unit"));

  if (reference.eigen_dequantize == nullptr) return;  // built without the Eigen adapter
  EXPECT_NE(reference.eigen_instance, simd.eigen_instance) << "one Eigen adapter instance serves both units";
  std::vector<lowbit::half> c(rows * cols), d(rows * cols);
  reference.eigen_dequantize(wq.data(), scales.data(), biases.data(), c.data(), rows, cols);
  simd.eigen_dequantize(wq.data(), scales.data(), biases.data(), d.data(), rows, cols);
  EXPECT_TRUE(lowbit_test::bit_equal(c, a, reference_name + " unit through Eigen"));
  EXPECT_TRUE(lowbit_test::bit_equal(d, a, simd_name + " unit through Eigen"));
}

}  // namespace
