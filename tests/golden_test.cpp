// MLX's own output (tests/data/mlx-golden), reproduced bit for bit: dequantize through the public API
// (run-time and compile-time overloads, every output type) and quantize (packed words, scales, biases).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "golden.hpp"
#include "test_util.hpp"

namespace {

using lowbit_test::bit_equal;
using lowbit_test::golden_case;
using lowbit_test::type_tag;

// Totals printed at the end, so the run shows exactly what was compared.
struct totals {
  std::size_t dequantize_files = 0, dequantize_elements = 0;
  std::size_t quantize_files = 0, quantize_words = 0, quantize_groups = 0;
};
totals g_totals;

class GoldenSummary : public ::testing::Environment {
 public:
  void TearDown() override {
    std::printf("[ golden   ] backend %s: dequantize matched MLX bit for bit in %zu files, %zu output elements "
                "(all type pairs); quantize matched in %zu files, %zu packed words, %zu scale/bias pairs\n",
                lowbit::backend_name(), g_totals.dequantize_files, g_totals.dequantize_elements,
                g_totals.quantize_files, g_totals.quantize_words, g_totals.quantize_groups);
  }
};
const auto* const g_summary = ::testing::AddGlobalTestEnvironment(new GoldenSummary);

class AffineGolden : public ::testing::TestWithParam<golden_case> {};

// MLX's result converted by the rule's last step (exact widening or one RNE narrowing): what lowbit
// must produce for an output type MLX was not asked for.
template <class O, class S>
std::vector<O> converted(const std::vector<S>& wd) {
  std::vector<O> out;
  out.reserve(wd.size());
  for (const S& v : wd) out.push_back(lowbit::detail::convert<O>(v));
  return out;
}

TEST_P(AffineGolden, DequantizeMatchesMlx) {
  const golden_case& c = GetParam();
  const auto f = lowbit_tools::file::open(c.path());
  const auto& wq_t = f.at("wq");
  const std::size_t rows = wq_t.rows(), cols = f.at("wd").cols();
  const auto wq = wq_t.copy_as<std::uint32_t>();
  lowbit_test::with_dtype(f.at("scales").dtype, [&](auto s_tag) {
    using S = typename decltype(s_tag)::type;
    const auto scales = f.at("scales").copy_as<S>();
    const auto biases = f.at("biases").copy_as<S>();
    const auto wd = f.at("wd").copy_as<S>();  // MLX returns the scales' dtype
    const std::string where = c.file + " (bits " + std::to_string(c.bits) + ", group_size " +
                              std::to_string(c.group_size) + ", " + lowbit::detail::type_name<S>() + ")";

    // Run-time overload, output in the scales' type.
    std::vector<S> out(rows * cols);
    lowbit::dequantize(wq.data(), scales.data(), biases.data(), out.data(), rows, cols, c.bits, c.group_size);
    EXPECT_TRUE(bit_equal(out, wd, where + " runtime dequantize vs MLX wd"));

    // Compile-time overload.
    std::vector<S> out_ct(rows * cols);
    lowbit::detail::with_config(c.bits, c.group_size, [&](auto b, auto g) {
      lowbit::dequantize<decltype(b)::value, decltype(g)::value>(wq.data(), scales.data(), biases.data(),
                                                                 out_ct.data(), rows, cols);
    });
    EXPECT_TRUE(bit_equal(out_ct, wd, where + " compile-time dequantize vs MLX wd"));

    // float32 output: MLX's dequantize(..., dtype=float32).
    std::vector<float> out_f32(rows * cols);
    lowbit::dequantize(wq.data(), scales.data(), biases.data(), out_f32.data(), rows, cols, c.bits, c.group_size);
    if (f.contains("wd_f32")) {
      EXPECT_TRUE(bit_equal(out_f32, f.at("wd_f32").copy_as<float>(), where + " float32 output vs MLX wd_f32"));
    } else {
      EXPECT_TRUE(bit_equal(out_f32, converted<float>(wd), where + " float32 output vs MLX wd"));
    }
    // The 2-byte output types, from MLX's wd by the rule's conversion step.
    std::vector<lowbit::half> out_h(rows * cols);
    lowbit::dequantize(wq.data(), scales.data(), biases.data(), out_h.data(), rows, cols, c.bits, c.group_size);
    EXPECT_TRUE(bit_equal(out_h, converted<lowbit::half>(wd), where + " half output vs MLX wd"));
    std::vector<lowbit::bfloat16> out_b(rows * cols);
    lowbit::dequantize(wq.data(), scales.data(), biases.data(), out_b.data(), rows, cols, c.bits, c.group_size);
    EXPECT_TRUE(bit_equal(out_b, converted<lowbit::bfloat16>(wd), where + " bfloat16 output vs MLX wd"));
  });
  if (!HasFailure()) {
    ++g_totals.dequantize_files;
    g_totals.dequantize_elements += 5 * rows * cols;
  }
}

TEST_P(AffineGolden, QuantizeMatchesMlx) {
  const golden_case& c = GetParam();
  const auto f = lowbit_tools::file::open(c.path());
  const std::size_t rows = f.at("w").rows(), cols = f.at("w").cols();
  const auto wq_mlx = f.at("wq").copy_as<std::uint32_t>();
  lowbit_test::with_dtype(f.at("w").dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto w = f.at("w").copy_as<T>();
    std::vector<std::uint32_t> wq(wq_mlx.size());
    std::vector<T> scales(rows * cols / c.group_size), biases(rows * cols / c.group_size);
    lowbit::quantize(w.data(), wq.data(), scales.data(), biases.data(), rows, cols, c.bits, c.group_size);
    const std::string where = c.file + " quantize";
    EXPECT_TRUE(bit_equal(scales, f.at("scales").copy_as<T>(), where + " scales vs MLX"));
    EXPECT_TRUE(bit_equal(biases, f.at("biases").copy_as<T>(), where + " biases vs MLX"));
    std::size_t first = wq.size(), count = 0;
    for (std::size_t i = 0; i < wq.size(); ++i) {
      if (wq[i] != wq_mlx[i]) {
        if (first == wq.size()) first = i;
        ++count;
      }
    }
    EXPECT_EQ(count, 0u) << where << ": " << count << " packed words differ; first at word " << first << ": got 0x"
                         << std::hex << (count ? wq[first] : 0) << ", want 0x" << (count ? wq_mlx[first] : 0);
    if (!HasFailure()) {
      ++g_totals.quantize_files;
      g_totals.quantize_words += wq.size();
      g_totals.quantize_groups += scales.size();
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Mlx, AffineGolden, ::testing::ValuesIn(lowbit_test::golden_cases("affine")),
                         [](const auto& info) { return lowbit_test::golden_test_name(info.param); });

TEST(GoldenData, ManifestListsEveryAffineConfiguration) {
  const auto cases = lowbit_test::golden_cases("affine");
  EXPECT_EQ(cases.size(), 55u);  // 6 bits x 3 group sizes x 3 dtypes, and the 3-D case
  for (const auto& c : cases) {
    EXPECT_TRUE(lowbit::format::is_mlx_bits(c.bits)) << c.file;
    EXPECT_TRUE(lowbit::format::is_supported_group_size(c.group_size)) << c.file;
  }
}

}  // namespace
