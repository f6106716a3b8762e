// Every kernel set compiled into this build (lowbit::detail::compiled_kernels) against the scalar reference,
// bit for bit, through the driver, over the whole configuration grid: bits 1..8 x group sizes x the nine type pairs x rows {1, 3, 17} x several
// column counts, with random and special values (subnormals, ±0, ±inf, NaN, huge, tiny) and pointers
// offset from vector alignment. Nothing may be written outside the output.
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
using lowbit_test::bits_of;
using lowbit_test::describe;
using lowbit_test::random_source;
using lowbit_test::type_tag;

// The value of S with these bits (the low 16 for half and bfloat16).
template <class S>
S from_bits(std::uint32_t u) {
  if constexpr (std::is_same<S, float>::value) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  } else {
    return S::from_bits(static_cast<std::uint16_t>(u));
  }
}

// Special values of S: ±0, subnormals, the largest finite, tiny normals, ±inf, quiet and signalling NaN.
template <class S>
std::vector<S> special_values() {
  std::vector<std::uint32_t> f32 = {0x00000000u, 0x80000000u, 0x00000001u, 0x80400000u, 0x007fffffu, 0x7f7fffffu,
                                    0xff7fffffu, 0x00800000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc12345u,
                                    0x7f800001u, 0x3f800000u, 0xc2c80000u, 0x0d000000u};
  std::vector<std::uint32_t> f16 = {0x0000, 0x8000, 0x0001, 0x8200, 0x03ff, 0x7bff, 0xfbff, 0x0400,
                                    0x7c00, 0xfc00, 0x7e00, 0xfe55, 0x7c01, 0x3c00, 0xd640, 0x1000};
  std::vector<std::uint32_t> bf16 = {0x0000, 0x8000, 0x0001, 0x8040, 0x007f, 0x7f7f, 0xff7f, 0x0080,
                                     0x7f80, 0xff80, 0x7fc0, 0xffc1, 0x7f81, 0x3f80, 0xc2c8, 0x0d00};
  std::vector<S> out;
  for (auto u : std::is_same<S, float>::value ? f32 : std::is_same<S, half>::value ? f16 : bf16) {
    out.push_back(from_bits<S>(u));
  }
  return out;
}

// A test matrix: random codes; scales and biases random with about one group in three special.
template <class S>
struct case_data {
  std::vector<std::uint32_t> wq;
  std::vector<S> scales, biases;
  case_data(std::size_t rows, std::size_t cols, int bits, int group_size, std::uint64_t seed) {
    random_source rs(seed);
    const std::size_t groups = rows * cols / group_size;
    wq = rs.words(rows * cols * bits / 32 + 1);  // one spare word: tests offset wq by one
    scales = rs.normal<S>(groups + 1, 0.02f);
    biases = rs.normal<S>(groups + 1, 0.2f);
    const auto special = special_values<S>();
    for (std::size_t g = 0; g < groups; ++g) {
      const auto pick = rs.engine() % 9;
      if (pick == 0) scales[g] = special[rs.engine() % special.size()];
      if (pick == 1) biases[g] = special[rs.engine() % special.size()];
      if (pick == 2) scales[g] = special[rs.engine() % special.size()], biases[g] = special[rs.engine() % special.size()];
    }
  }
};

// When both s*q and b are NaN, IEEE 754 leaves open which NaN the sum returns (and compilers may swap
// the operands of a commutative add), so there only "both are NaN" is required; everywhere else, bits.
template <class S>
bool both_nan_inputs(S scale, S bias, std::uint32_t q) {
  const float s = static_cast<float>(scale), b = static_cast<float>(bias);
  return std::isnan(s * static_cast<float>(q)) && std::isnan(b);
}

// Checks one run: the guard zones around the output untouched, every element equal to the reference.
template <class S, class O>
void check_run(const std::vector<O>& buffer, std::size_t begin, const std::vector<O>& want, O sentinel,
               const std::uint32_t* wq, const S* scales, const S* biases, int bits, int group_size,
               const std::string& where) {
  const std::size_t n = want.size();
  for (std::size_t i = 0; i < buffer.size(); ++i) {
    if (i >= begin && i < begin + n) continue;
    ASSERT_EQ(bits_of(buffer[i]), bits_of(sentinel)) << where << ": wrote outside the output, at " << i;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const O got = buffer[begin + i];
    if (bits_of(got) == bits_of(want[i])) continue;
    const std::size_t g = i / static_cast<std::size_t>(group_size);
    const std::uint32_t q = lowbit::format::code_at(wq, i, bits);
    if (both_nan_inputs(scales[g], biases[g], q) && std::isnan(static_cast<float>(got)) &&
        std::isnan(static_cast<float>(want[i]))) {
      continue;
    }
    FAIL() << where << ": first difference at element " << i << " (code " << q << ", scale " << describe(scales[g])
           << ", bias " << describe(biases[g]) << "): got " << describe(got) << ", scalar reference "
           << describe(want[i]);
  }
}

// One configuration's driver entry point. The checks below take it as a pointer, so that they compile once
// per type pair rather than once per kernel set, bit width and group size: the instances themselves are
// compiled once per build (instances/instances.hpp).
template <class S, class O>
using dequantizer = void (*)(const std::uint32_t*, const S*, const S*, O*, std::size_t, std::size_t,
                             const lowbit::options&);
template <class Kernels, int Bits, int GroupSize, class S, class O>
constexpr dequantizer<S, O> entry = &lowbit::detail::dequantize_affine<Kernels, Bits, GroupSize, S, O>;

// The kernel set under test and the scalar reference for one configuration.
template <class S, class O>
struct configuration {
  const char* kernels;
  int bits, group_size;
  dequantizer<S, O> tested, reference;
};
template <class Kernels, int Bits, int GroupSize, class S, class O>
configuration<S, O> configuration_of() {
  return {Kernels::name, Bits, GroupSize, entry<Kernels, Bits, GroupSize, S, O>,
          entry<lowbit::detail::scalar_kernels, Bits, GroupSize, S, O>};
}

template <class S, class O>
void compare_data(const configuration<S, O>& c, const case_data<S>& d, std::size_t rows, std::size_t cols,
                  std::size_t out_offset, std::size_t in_offset) {
  const std::size_t n = rows * cols, guard = 16;
  const std::uint32_t* wq = d.wq.data() + in_offset;
  const S* scales = d.scales.data() + in_offset;
  const S* biases = d.biases.data() + in_offset;

  std::vector<O> want(n);
  c.reference(wq, scales, biases, want.data(), rows, cols, lowbit::options{});
  const O sentinel = lowbit_test::from_float<O>(-12345.0f);
  std::vector<O> buffer(n + 2 * guard + out_offset, sentinel);
  c.tested(wq, scales, biases, buffer.data() + guard + out_offset, rows, cols, lowbit::options{});
  check_run(buffer, guard + out_offset, want, sentinel, wq, scales, biases, c.bits, c.group_size,
            std::string(c.kernels) + ": bits " + std::to_string(c.bits) + ", group_size " +
                std::to_string(c.group_size) + ", " + lowbit::detail::type_name<S>() + " -> " +
                lowbit::detail::type_name<O>() + ", " + std::to_string(rows) + " x " + std::to_string(cols) +
                ", out offset " + std::to_string(out_offset) + ", input offset " + std::to_string(in_offset));
}

// The grid of shapes and offsets for one configuration.
template <class S, class O>
void compare_shapes(const configuration<S, O>& c) {
  std::uint64_t seed = 1;
  const auto one = [&](std::size_t rows, std::size_t cols, std::size_t out_offset, std::size_t in_offset) {
    compare_data(c, case_data<S>(rows, cols, c.bits, c.group_size, ++seed), rows, cols, out_offset, in_offset);
  };
  for (std::size_t rows : {1u, 3u, 17u}) {
    for (std::size_t groups_per_row : {1u, 2u, 5u}) {
      const std::size_t cols = groups_per_row * static_cast<std::size_t>(c.group_size);
      one(rows, cols, 0, 0);
      one(rows, cols, 1, 1);  // misaligned out and inputs
    }
  }
  one(2, 4096, 3, 0);  // a wide row
}

template <class Kernels, int Bits, int GroupSize>
void compare_grid() {
  lowbit_test::for_each_type_pair([&](auto s, auto o) {
    compare_shapes(configuration_of<Kernels, Bits, GroupSize, typename decltype(s)::type, typename decltype(o)::type>());
  });
}

template <class Kernels, int Bits>
void compare_bits() {
  compare_grid<Kernels, Bits, 32>();
  compare_grid<Kernels, Bits, 64>();
  compare_grid<Kernels, Bits, 128>();
}

template <class Kernels>
class Backend : public ::testing::Test {};
TYPED_TEST_SUITE(Backend, lowbit_test::compiled_kernel_types, lowbit_test::kernel_set_name);

TYPED_TEST(Backend, Bits1MatchesScalar) { compare_bits<TypeParam, 1>(); }
TYPED_TEST(Backend, Bits2MatchesScalar) { compare_bits<TypeParam, 2>(); }
TYPED_TEST(Backend, Bits3MatchesScalar) { compare_bits<TypeParam, 3>(); }
TYPED_TEST(Backend, Bits4MatchesScalar) { compare_bits<TypeParam, 4>(); }
TYPED_TEST(Backend, Bits5MatchesScalar) { compare_bits<TypeParam, 5>(); }
TYPED_TEST(Backend, Bits6MatchesScalar) { compare_bits<TypeParam, 6>(); }
TYPED_TEST(Backend, Bits7MatchesScalar) { compare_bits<TypeParam, 7>(); }
TYPED_TEST(Backend, Bits8MatchesScalar) { compare_bits<TypeParam, 8>(); }

#if LOWBIT_HAVE_AVX2
// The AVX2 kernels round s * q to S without the general conversion when normal_products admits the scale
// (Veltkamp's split), and the AVX-512 ones to half with integer operations; here, for every scale of S and
// every code of every bit width, against lowbit::half's or lowbit::bfloat16's rounding (which types_test
// checks against the conversion instructions). For half, the two backends must admit the same scales.
template <int Bits, class S>
std::size_t check_normal_rounding() {
  namespace avx2 = lowbit::detail::avx2;
  constexpr bool is_half = std::is_same<S, half>::value;
  constexpr int codes = 1 << Bits;
  const float smallest = is_half ? 0x1p-14f : 0x1p-126f, largest = is_half ? 32768.0f : 0x1p99f;
  std::size_t checked = 0;
  alignas(64) float scales[16], products[16], want[16], got[16];
  for (std::uint32_t first = 0; first < 65536; first += 16) {
    for (int i = 0; i < 16; ++i) scales[i] = static_cast<float>(from_bits<S>(first + i));
    const unsigned admitted = avx2::normal_products<Bits, S>(scales) | avx2::normal_products<Bits, S>(scales + 8) << 8;
#if LOWBIT_HAVE_AVX512
    if (is_half) {
      EXPECT_EQ(unsigned{lowbit::detail::avx512::normal_products<Bits>(scales)}, admitted)
          << "scales from half " << first;
    }
#endif
    for (int i = 0; i < 16; ++i) {
      if (((admitted >> i) & 1u) == 0) {
        EXPECT_FALSE(std::isfinite(scales[i]) && std::fabs(scales[i]) >= smallest &&
                     std::fabs(scales[i]) * static_cast<float>(codes - 1) < largest)
            << "scale " << scales[i] << " refused at " << Bits << " bits";
        continue;
      }
      for (int q = 0; q < codes; q += 16) {
        for (int k = 0; k < 16; ++k) {
          products[k] = scales[i] * static_cast<float>((q + k) & (codes - 1));  // exact in float
          want[k] = static_cast<float>(S(products[k]));
        }
        _mm256_store_ps(got, avx2::round_normal_product<S>(_mm256_load_ps(products)));
        _mm256_store_ps(got + 8, avx2::round_normal_product<S>(_mm256_load_ps(products + 8)));
        bool same = std::memcmp(got, want, sizeof want) == 0;
#if LOWBIT_HAVE_AVX512
        if (is_half) {
          _mm512_store_ps(got, lowbit::detail::avx512::round_normal_to_half(_mm512_load_ps(products)));
          same = same && std::memcmp(got, want, sizeof want) == 0;
        }
#endif
        if (!same) {
          ADD_FAILURE() << lowbit::detail::type_name<S>() << " scale " << scales[i] << ", codes " << q << ".. at "
                        << Bits << " bits";
          return checked;
        }
        checked += 16;
      }
    }
  }
  return checked;
}

template <class S>
std::size_t check_normal_rounding_all_bits() {
  return check_normal_rounding<1, S>() + check_normal_rounding<2, S>() + check_normal_rounding<3, S>() +
         check_normal_rounding<4, S>() + check_normal_rounding<5, S>() + check_normal_rounding<6, S>() +
         check_normal_rounding<7, S>() + check_normal_rounding<8, S>();
}

TEST(X86, HalfRoundingMatchesConversionsForEveryAdmittedProduct) {
  const std::size_t checked = check_normal_rounding_all_bits<half>();
  std::printf("[ rounding ] %zu products of a half scale and a code rounded alike\n", checked);
  EXPECT_GT(checked, std::size_t{20000000});  // most of the 65,536 scales are admitted at every width
}

TEST(X86, BFloat16RoundingMatchesConversionsForEveryAdmittedProduct) {
  const std::size_t checked = check_normal_rounding_all_bits<bfloat16>();
  std::printf("[ rounding ] %zu products of a bfloat16 scale and a code rounded alike\n", checked);
  EXPECT_GT(checked, std::size_t{20000000});
}
#endif

#if LOWBIT_HAVE_AVX512
// The AVX-512 per-element rule for 6 bits with float output and for 7 bits computes s * q as one FMA on
// biased codes in batches of 16 groups that biased_products admits: |s| < 2^100 and no bias zero. The
// grid's special values make whole admitted batches rare, so here each batch is built to be admitted (random,
// subnormal, huge and zero scales; tiny and huge biases) or refused by one group in it.

template <int Bits, int GroupSize, class S, class O>
void compare_biased_batches() {
  constexpr bool is_half = std::is_same<S, half>::value;
  constexpr int themes = 8;
  const std::size_t rows = 2, cols = 16 * themes / rows * GroupSize;
  case_data<S> d(rows, cols, Bits, GroupSize, 7);
  random_source rs(Bits * 1000 + GroupSize);
  const std::uint32_t sign = std::is_same<S, float>::value ? 0x80000000u : 0x8000u;
  const std::uint32_t subnormals = std::is_same<S, float>::value ? 0x7fffffu : is_half ? 0x3ffu : 0x7fu;
  const float largest = is_half ? 65504.0f : static_cast<float>(from_bits<S>(std::is_same<S, float>::value ? 0x717fffffu : 0x717fu));
  for (int theme = 0; theme < themes; ++theme) {
    for (int i = 0; i < 16; ++i) {
      const std::size_t g = 16 * theme + i;
      const bool negative = rs.engine() % 2 != 0;
      S& s = d.scales[g];
      S& b = d.biases[g];
      s = lowbit_test::from_float<S>(static_cast<float>(static_cast<int>(rs.engine() % 2001) - 1000) / 1000.0f * 0.05f);
      b = lowbit_test::from_float<S>(static_cast<float>(rs.engine() % 1000 + 1) / 1000.0f * (negative ? -0.3f : 0.3f));
      if (theme == 1) {  // subnormal scales and tiny biases: products underflow
        s = from_bits<S>((rs.engine() % subnormals + 1) | (negative ? sign : 0u));
        b = from_bits<S>((rs.engine() % 3 + 1) | (rs.engine() % 2 != 0 ? sign : 0u));
      }
      if (theme == 2) s = lowbit_test::from_float<S>(negative ? -largest : largest);  // the largest scale admitted
      if (theme == 3 && i % 3 == 0) s = from_bits<S>(negative ? sign : 0u);  // ±0: s * 0 is ±0
      if (theme == 4 && i == 5) b = from_bits<S>(0);  // refused: the zero's sign would show
      if (theme == 5 && i == 15) {  // -0 + -0 is -0, +0 + -0 is +0: refused, and it would show
        s = lowbit_test::from_float<S>(-0.01f);
        b = from_bits<S>(sign);
      }
      if (theme == 6 && i == 0 && !is_half) s = lowbit_test::from_float<S>(negative ? -0x1p100f : 0x1p100f);  // refused
    }
    alignas(64) float scale[16], bias[16];
    for (int i = 0; i < 16; ++i) {
      scale[i] = static_cast<float>(d.scales[16 * theme + i]);
      bias[i] = static_cast<float>(d.biases[16 * theme + i]);
    }
    const bool admitted = lowbit::detail::avx512::biased_products(scale, bias) == 0xffff;
    EXPECT_EQ(admitted, theme != 4 && theme != 5 && (theme != 6 || is_half)) << "batch " << theme;
  }
  compare_data(configuration_of<lowbit::detail::avx512_kernels, Bits, GroupSize, S, O>(), d, rows, cols, 0, 0);
}

TEST(Avx512, ProductsFromBiasedCodesMatchScalar) {
  lowbit_test::for_each_type_pair([&](auto s, auto o) {
    using S = typename decltype(s)::type;
    using O = typename decltype(o)::type;
    compare_biased_batches<6, 32, S, O>();
    compare_biased_batches<6, 64, S, O>();
    compare_biased_batches<6, 128, S, O>();
    compare_biased_batches<7, 32, S, O>();
    compare_biased_batches<7, 64, S, O>();
    compare_biased_batches<7, 128, S, O>();
  });
}
#endif

TEST(Backend, ActiveBackendIsTheOneConfigSelected) {
  // LOWBIT_FORCE_AVX2 on an AVX-512 target selects AVX2; without a LOWBIT_FORCE_* macro the best target.
  EXPECT_EQ(lowbit::backend_name(), lowbit_test::expected_backend_name());
#if !defined(LOWBIT_FORCE_SCALAR) && !defined(LOWBIT_FORCE_AVX2) && !defined(LOWBIT_FORCE_AVX512) && \
    !defined(LOWBIT_FORCE_NEON)
  EXPECT_EQ(LOWBIT_BACKEND, LOWBIT_HAVE_AVX512 ? LOWBIT_BACKEND_AVX512
                            : LOWBIT_HAVE_AVX2 ? LOWBIT_BACKEND_AVX2
                            : LOWBIT_HAVE_NEON ? LOWBIT_BACKEND_NEON
                                               : LOWBIT_BACKEND_SCALAR);
#endif
}

// The active set is one of those the grid compares with the reference.
template <class Active, class... Kernels>
constexpr bool listed(lowbit::detail::kernel_list<Kernels...>) {
  return (std::is_same<Active, Kernels>::value || ...);
}
static_assert(listed<lowbit::detail::active_kernels>(lowbit::detail::compiled_kernels{}), "active set not tested");

}  // namespace
