// Every kernel set compiled into this build (lowbit::detail::compiled_kernels) against the scalar fp reference, bit for bit: mxfp4,
// nvfp4 (without and with global scales, special ones included) and mxfp8 x the three output types x rows
// {1, 3, 17} x several group counts (odd ones too: the nvfp4 2-byte kernels pair groups) x random code
// bytes, all 256 scale codes, and pointers offset from vector alignment. Nothing may be written outside
// the output.
//
// NaN: the fp rule has a single multiply, sf * v, whose element v is never NaN. A NaN result is either the
// global scale's NaN carried through (one NaN operand: its bits are defined) or Inf * 0 (the platform's
// default NaN, the same for scalar and vector instructions). So unlike the affine grid, where two NaNs can
// meet in one addition, no NaN is exempt here: every bit must match.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace {

using lowbit::bfloat16;
using lowbit::half;
using lowbit::mode;
using lowbit_test::bits_of;
using lowbit_test::describe;

// Global scales for nvfp4: none (NaN here means "no global scale" only where `has` is false).
struct global {
  bool has;
  float value;
};
std::vector<global> globals_for(mode m) {
  if (m != mode::nvfp4) return {{false, 0.0f}};
  const float inf = std::numeric_limits<float>::infinity();
  std::uint32_t snan_bits = 0x7fa00001u;
  float snan;
  std::memcpy(&snan, &snan_bits, 4);
  return {{false, 0.0f}, {true, 1.0f},        {true, 26810.078f}, {true, 3.0e-3f},   {true, 1.0e30f}, {true, -7.5f},
          {true, 0.0f},  {true, 1.0e-40f},    {true, inf},        {true, -inf},      {true, std::nanf("")},
          {true, snan}};
}

std::string global_name(const global& g) {
  if (!g.has) return "no global scale";
  char buf[64];
  std::snprintf(buf, sizeof buf, "global scale %g (0x%08x)", static_cast<double>(g.value),
                static_cast<unsigned>(bits_of(g.value)));
  return buf;
}

// Inputs: random code bytes (every E2M1 / E4M3 code, including 0x7F / 0xFF and the zeros that make
// Inf * 0), scale codes cycling through all 256 values from a random start, with one spare element in
// front of each array so that the tests can offset every pointer.
struct case_data {
  std::vector<std::uint32_t> wq;
  std::vector<std::uint8_t> scales;
  case_data(std::size_t rows, std::size_t cols, mode m, std::uint64_t seed) {
    lowbit_test::random_source rs(seed);
    const std::size_t groups = rows * cols / static_cast<std::size_t>(lowbit::mode_group_size(m));
    wq = rs.words(rows * cols * static_cast<std::size_t>(lowbit::mode_bits(m)) / 32 + 1);
    scales.resize(groups + 1);
    const auto start = static_cast<unsigned>(rs.engine());
    for (std::size_t g = 0; g < scales.size(); ++g) {
      scales[g] = static_cast<std::uint8_t>(rs.engine() % 4 == 0 ? rs.engine() : start + 37u * g);
    }
  }
};

template <class Kernels, mode M, class O>
void compare_one(std::size_t rows, std::size_t groups_per_row, std::size_t out_offset, std::size_t in_offset,
                 const global& gs, std::uint64_t seed) {
  constexpr int group_size = lowbit::mode_group_size(M);
  const std::size_t cols = groups_per_row * group_size, n = rows * cols, guard = 16;
  const case_data d(rows, cols, M, seed);
  const std::uint32_t* wq = d.wq.data() + in_offset;
  const std::uint8_t* scales = d.scales.data() + in_offset;
  const float* global_scale = gs.has ? &gs.value : nullptr;

  std::vector<O> want(n);
  lowbit::detail::dequantize_fp<lowbit::detail::scalar_kernels, M>(wq, scales, want.data(), rows, cols, global_scale);
  const O sentinel = lowbit_test::from_float<O>(-12345.0f);
  std::vector<O> buffer(n + 2 * guard + out_offset, sentinel);
  const std::size_t begin = guard + out_offset;
  lowbit::detail::dequantize_fp<Kernels, M>(wq, scales, buffer.data() + begin, rows, cols, global_scale);

  const std::string where = std::string(Kernels::name) + ": " + lowbit::mode_name(M) + " -> " +
                            lowbit::detail::type_name<O>() + ", " + std::to_string(rows) + " x " +
                            std::to_string(cols) + ", " + global_name(gs) + ", out offset " +
                            std::to_string(out_offset) + ", input offset " + std::to_string(in_offset);
  for (std::size_t i = 0; i < buffer.size(); ++i) {
    if (i >= begin && i < begin + n) continue;
    ASSERT_EQ(bits_of(buffer[i]), bits_of(sentinel)) << where << ": wrote outside the output, at " << i;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const O got = buffer[begin + i];
    if (bits_of(got) == bits_of(want[i])) continue;
    const std::size_t g = i / group_size;
    FAIL() << where << ": first difference at element " << i << " (code "
           << lowbit::format::code_at(wq, i, lowbit::mode_bits(M))
           << ", scale code " << int(scales[g]) << "): got " << describe(got) << ", scalar reference "
           << describe(want[i]);
  }
}

template <class Kernels, mode M, class O>
void compare_grid() {
  std::uint64_t seed = 100 * static_cast<std::uint64_t>(M);
  for (const global& gs : globals_for(M)) {
    for (std::size_t rows : {1u, 3u, 17u}) {
      for (std::size_t groups_per_row : {1u, 2u, 3u, 5u}) {
        compare_one<Kernels, M, O>(rows, groups_per_row, 0, 0, gs, ++seed);
        compare_one<Kernels, M, O>(rows, groups_per_row, 1, 1, gs, ++seed);  // misaligned out and inputs
      }
    }
    compare_one<Kernels, M, O>(2, 129, 3, 1, gs, ++seed);  // 258 groups: every scale code, odd count per row
  }
}

template <class Kernels, mode M>
void compare_mode() {
  compare_grid<Kernels, M, float>();
  compare_grid<Kernels, M, half>();
  compare_grid<Kernels, M, bfloat16>();
}

TEST(FpHarness, ScaleFactorsOfTheKernelsEqualTheRule) {
  // The integer E8M0 decoding the SIMD kernels use, against the conversions of the reference, all codes.
  using lowbit::detail::fp::e8m0_factor;
  using lowbit::detail::fp::scale_factor;
  for (int c = 0; c < 256; ++c) {
    const auto code = static_cast<std::uint8_t>(c);
    EXPECT_EQ(bits_of(e8m0_factor<float>(code)), bits_of(scale_factor<mode::mxfp4, float>(code))) << c;
    EXPECT_EQ(bits_of(e8m0_factor<half>(code)), bits_of(scale_factor<mode::mxfp8, half>(code))) << c;
    EXPECT_EQ(bits_of(e8m0_factor<bfloat16>(code)), bits_of(scale_factor<mode::mxfp4, bfloat16>(code))) << c;
    EXPECT_EQ(bits_of(lowbit::detail::fp::e4m3_values[code]), bits_of(scale_factor<mode::nvfp4, half>(code))) << c;
  }
}

template <class Kernels>
class FpBackend : public ::testing::Test {};
TYPED_TEST_SUITE(FpBackend, lowbit_test::compiled_kernel_types, lowbit_test::kernel_set_name);

TYPED_TEST(FpBackend, Mxfp4MatchesScalar) { compare_mode<TypeParam, mode::mxfp4>(); }
TYPED_TEST(FpBackend, Nvfp4MatchesScalar) { compare_mode<TypeParam, mode::nvfp4>(); }
TYPED_TEST(FpBackend, Mxfp8MatchesScalar) { compare_mode<TypeParam, mode::mxfp8>(); }

}  // namespace
