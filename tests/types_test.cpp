// lowbit::half and lowbit::bfloat16: exhaustive and sampled checks against independent computations.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include <lowbit/types.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace {

using lowbit::bfloat16;
using lowbit::half;

std::uint32_t bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Slow references, in double arithmetic, written from the IEEE definitions.
double half_value(std::uint16_t h) {
  const int sign = h >> 15, exponent = (h >> 10) & 31, mantissa = h & 1023;
  double v = exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
  if (exponent == 31) v = mantissa ? std::numeric_limits<double>::quiet_NaN() : HUGE_VAL;
  return sign ? -v : v;
}
// Correctly rounded (nearest, ties to even) value of x in a binary format with `precision` significant
// bits, minimum normal exponent emin and largest finite value max_finite.
double round_to_format(double x, int precision, int emin, double max_finite) {
  if (std::isnan(x) || std::isinf(x) || x == 0) return x;
  const double a = std::fabs(x);
  const int e = std::max(static_cast<int>(std::floor(std::log2(a))), emin);
  const double ulp = std::ldexp(1.0, e - (precision - 1));
  double r = std::nearbyint(a / ulp) * ulp;  // a / ulp is exact: ulp is a power of two
  // Overflow: rounding to nearest reaches infinity at max_finite + ulp(max_finite) / 2.
  const double ulp_max = std::ldexp(1.0, static_cast<int>(std::floor(std::log2(max_finite))) - (precision - 1));
  if (a >= max_finite + ulp_max / 2) r = HUGE_VAL;
  return x < 0 ? -r : r;
}
double half_reference(float f) { return round_to_format(f, 11, -14, 65504.0); }
double bfloat16_reference(float f) {
  return round_to_format(f, 8, -126, static_cast<double>(from_bits(0x7f7f0000u)));
}

// Floats that exercise every exponent with the rounding-relevant low bits in many states: each of the
// 65,536 upper halves with a set of lower halves (zero, ties, just around ties, all ones, random-ish).
std::vector<float> sample_floats() {
  static const std::uint32_t lows[] = {0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000,
                                       0x7fff, 0x8000, 0x8001, 0xffff, 0x5a5a, 0xa5a5, 0x4000, 0xc000};
  std::vector<float> out;
  for (std::uint32_t hi = 0; hi < 65536; ++hi) {
    for (std::uint32_t lo : lows) out.push_back(from_bits((hi << 16) | lo));
  }
  return out;
}

bool same_value(double a, float b) {
  if (std::isnan(a)) return std::isnan(b);
  return a == static_cast<double>(b) && std::signbit(a) == std::signbit(b);
}

TEST(Half, EveryBitPatternWidensExactly) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float f = static_cast<float>(half::from_bits(static_cast<std::uint16_t>(h)));
    ASSERT_TRUE(same_value(half_value(static_cast<std::uint16_t>(h)), f)) << std::hex << "half 0x" << h;
  }
}

TEST(Half, EveryBitPatternRoundTrips) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const half x = half::from_bits(static_cast<std::uint16_t>(h));
    const std::uint16_t back = half(static_cast<float>(x)).to_bits();
    const bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
    if (nan) {
      ASSERT_EQ(back, h | 0x200) << std::hex << "NaN 0x" << h << " must come back quiet, same sign and payload";
    } else {
      ASSERT_EQ(back, h) << std::hex << "half 0x" << h;
    }
  }
}

TEST(Half, NarrowingRoundsToNearestEven) {
  std::size_t n = 0;
  for (float f : sample_floats()) {
    const float got = static_cast<float>(half(f));
    ASSERT_TRUE(same_value(half_reference(f), got)) << std::hex << "float 0x" << bits(f) << " -> half 0x"
                                                    << half(f).to_bits();
    ++n;
  }
  EXPECT_EQ(n, 65536u * 16);
}

TEST(Half, SpecialValues) {
  EXPECT_EQ(half(65504.0f).to_bits(), 0x7bff);
  EXPECT_EQ(half(65519.996f).to_bits(), 0x7bff);
  EXPECT_EQ(half(65520.0f).to_bits(), 0x7c00);  // the tie above the largest finite rounds to inf
  EXPECT_EQ(half(-1e9f).to_bits(), 0xfc00);
  EXPECT_EQ(half(std::ldexp(1.0f, -24)).to_bits(), 0x0001);  // smallest subnormal
  EXPECT_EQ(half(std::ldexp(1.0f, -25)).to_bits(), 0x0000);  // tie to even: 0
  EXPECT_EQ(half(std::ldexp(1.5f, -25)).to_bits(), 0x0001);
  EXPECT_EQ(half(std::ldexp(3.0f, -25)).to_bits(), 0x0002);  // tie between 1 and 2 subnormal units: even
  EXPECT_EQ(half(std::ldexp(1023.5f, -24)).to_bits(), 0x0400);  // subnormal rounds up to the smallest normal
  EXPECT_EQ(half(1.0f + std::ldexp(1.0f, -11)).to_bits(), 0x3c00);  // tie, even stays
  EXPECT_EQ(half(1.0f + std::ldexp(3.0f, -11)).to_bits(), 0x3c02);  // tie, odd rounds up
  EXPECT_EQ(half(-0.0f).to_bits(), 0x8000);
  EXPECT_EQ(half(std::numeric_limits<float>::infinity()).to_bits(), 0x7c00);
  EXPECT_EQ(half(std::numeric_limits<float>::denorm_min()).to_bits(), 0x0000);
  const half nan(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan.to_bits() & 0x7e00, 0x7e00);
  EXPECT_TRUE(std::isnan(static_cast<float>(nan)));
  EXPECT_EQ(half(from_bits(0x7f800001u)).to_bits(), 0x7e00);  // signalling NaN with a low payload: quiet
  EXPECT_EQ(half(from_bits(0xff812000u)).to_bits(), 0xfe09);  // sign and top payload bits survive
}

#if LOWBIT_HAS_FLOAT16
// The compiler's _Float16 is an independent implementation (libgcc soft-float or hardware).
TEST(Half, AgreesWithCompilerFloat16) {
  for (float f : sample_floats()) {
    if (std::isnan(f)) continue;
    const _Float16 c = static_cast<_Float16>(f);
    std::uint16_t cb;
    std::memcpy(&cb, &c, 2);
    ASSERT_EQ(half(f).to_bits(), cb) << std::hex << "float 0x" << bits(f);
  }
  for (std::uint32_t h = 0; h < 65536; ++h) {
    _Float16 c;
    const std::uint16_t hb = static_cast<std::uint16_t>(h);
    std::memcpy(&c, &hb, 2);
    const float ours = static_cast<float>(half::from_bits(hb));
    if (std::isnan(ours)) continue;
    ASSERT_EQ(bits(ours), bits(static_cast<float>(c))) << std::hex << "half 0x" << h;
  }
}
#endif

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("f16c"))) std::uint16_t f16c_narrow(float f) {
  return static_cast<std::uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) float f16c_widen(std::uint16_t h) { return _cvtsh_ss(h); }

// The F16C instructions are what the AVX2 and AVX-512 backends convert with: NaNs included, the
// software conversions must give the same bits.
TEST(Half, AgreesWithF16CIncludingNaN) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "CPU has no F16C";
  for (float f : sample_floats()) ASSERT_EQ(half(f).to_bits(), f16c_narrow(f)) << std::hex << "float 0x" << bits(f);
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const std::uint16_t hb = static_cast<std::uint16_t>(h);
    ASSERT_EQ(bits(static_cast<float>(half::from_bits(hb))), bits(f16c_widen(hb))) << std::hex << "half 0x" << h;
  }
}
#endif

TEST(BFloat16, EveryBitPatternWidensExactly) {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const float f = static_cast<float>(bfloat16::from_bits(static_cast<std::uint16_t>(b)));
    const bool nan = (b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0;
    if (nan) {
      ASSERT_EQ(bits(f), (b << 16) | 0x400000u) << std::hex << "NaN 0x" << b << " widens quiet";
    } else {
      ASSERT_EQ(bits(f), b << 16) << std::hex << "bfloat16 0x" << b;
    }
  }
}

TEST(BFloat16, EveryBitPatternRoundTrips) {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const bfloat16 x = bfloat16::from_bits(static_cast<std::uint16_t>(b));
    const std::uint16_t back = bfloat16(static_cast<float>(x)).to_bits();
    const bool nan = (b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0;
    ASSERT_EQ(back, nan ? (b | 0x40) : b) << std::hex << "bfloat16 0x" << b;
  }
}

TEST(BFloat16, NarrowingRoundsToNearestEven) {
  for (float f : sample_floats()) {
    const float got = static_cast<float>(bfloat16(f));
    ASSERT_TRUE(same_value(bfloat16_reference(f), got)) << std::hex << "float 0x" << bits(f);
  }
}

TEST(BFloat16, SpecialValues) {
  EXPECT_EQ(bfloat16(1.0f).to_bits(), 0x3f80);
  EXPECT_EQ(bfloat16(1.0f + std::ldexp(1.0f, -8)).to_bits(), 0x3f80);  // tie, even stays
  EXPECT_EQ(bfloat16(1.0f + std::ldexp(3.0f, -8)).to_bits(), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(bfloat16(std::numeric_limits<float>::max()).to_bits(), 0x7f80);  // rounds past the largest: inf
  EXPECT_EQ(bfloat16(-std::numeric_limits<float>::infinity()).to_bits(), 0xff80);
  EXPECT_EQ(bfloat16(-0.0f).to_bits(), 0x8000);
  EXPECT_EQ(bfloat16(from_bits(0x00010000u)).to_bits(), 0x0001);  // subnormal kept, never flushed
  EXPECT_EQ(bfloat16(from_bits(0x00008000u)).to_bits(), 0x0000);  // tie to even
  EXPECT_EQ(bfloat16(from_bits(0x00018000u)).to_bits(), 0x0002);
  EXPECT_EQ(bfloat16(from_bits(0x7f800001u)).to_bits(), 0x7fc0);  // signalling NaN: quiet
  EXPECT_EQ(bfloat16(from_bits(0xffc12345u)).to_bits(), 0xffc1);
}

TEST(StorageOf, MapsPlatformTypes) {
  static_assert(std::is_same<lowbit::storage_of<float>::type, float>::value, "");
  static_assert(std::is_same<lowbit::storage_of<half>::type, half>::value, "");
  static_assert(std::is_same<lowbit::storage_of<bfloat16>::type, bfloat16>::value, "");
#if LOWBIT_HAS_FLOAT16
  static_assert(std::is_same<lowbit::storage_of<_Float16>::type, half>::value, "");
#endif
  static_assert(!lowbit::detail::is_storage_type<double>::value, "double is not a storage type");
  SUCCEED();
}

}  // namespace
