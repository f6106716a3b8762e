// MLX's own output for the floating-point modes (tests/data/mlx-golden: mxfp4, nvfp4 with and without a
// global scale, mxfp8), reproduced bit for bit through the public API: dequantize (run-time and
// compile-time mode, MLX's default output type `wd` and float32 `wd_f32`, plus half output by the rule)
// and quantize (packed words and scale codes).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "golden.hpp"
#include "test_util.hpp"

namespace {

using lowbit::bfloat16;
using lowbit::half;
using lowbit::mode;
using lowbit_test::bit_equal;
using lowbit_test::golden_case;

struct totals {
  std::size_t dequantize_files = 0, dequantize_elements = 0;
  std::size_t quantize_files = 0, quantize_words = 0, quantize_scales = 0;
};
totals g_totals;

class FpGoldenSummary : public ::testing::Environment {
 public:
  void TearDown() override {
    std::printf("[ golden   ] fp modes, backend %s: dequantize matched MLX bit for bit in %zu files, %zu output "
                "elements (MLX's wd and wd_f32, and half by the rule); quantize matched in %zu files, %zu packed "
                "words, %zu scale codes\n",
                lowbit::backend_name(), g_totals.dequantize_files, g_totals.dequantize_elements,
                g_totals.quantize_files, g_totals.quantize_words, g_totals.quantize_scales);
  }
};
const auto* const g_summary = ::testing::AddGlobalTestEnvironment(new FpGoldenSummary);

std::vector<golden_case> fp_cases() {
  std::vector<golden_case> all;
  for (const char* m : {"mxfp4", "nvfp4", "mxfp8"}) {
    for (const auto& c : lowbit_test::golden_cases(m)) all.push_back(c);
  }
  return all;
}

mode mode_of(const golden_case& c) { return lowbit::parse_mode(c.mode); }

// The expected half output, computed here independently of the library's kernels from the rule in fp.hpp:
// element value and scale rounded to half, their product rounded to half (no global scale); with a global
// scale, MLX's float32 result rounded to half.
std::vector<half> expected_half(const golden_case& c, const std::vector<std::uint32_t>& wq,
                                const std::vector<std::uint8_t>& scales, const std::vector<float>& wd_f32) {
  std::vector<half> out;
  if (c.has_global_scale()) {
    for (float v : wd_f32) out.push_back(half(v));
    return out;
  }
  static const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(wq.data());
  for (std::size_t i = 0; i < wd_f32.size(); ++i) {
    const std::uint8_t code = scales[i / static_cast<std::size_t>(c.group_size)];
    float scale, value;
    if (c.mode == "nvfp4") {
      const int e = (code >> 3) & 15, m = code & 7;
      scale = std::ldexp(e ? 8.0f + static_cast<float>(m) : static_cast<float>(m), e ? e - 10 : -9);
    } else {
      scale = code == 0 ? std::ldexp(1.0f, -127) : std::ldexp(1.0f, code - 127);  // 255: 2^128 = inf
    }
    if (c.mode == "mxfp8") {
      const std::uint8_t b = bytes[i];
      const int e = (b >> 3) & 15, m = b & 7;
      value = std::ldexp(e ? 8.0f + static_cast<float>(m) : static_cast<float>(m), e ? e - 10 : -9);
      if (b & 0x80) value = -value;
    } else {
      value = e2m1[(bytes[i / 2] >> (4 * (i % 2))) & 15];
    }
    out.push_back(half(static_cast<float>(half(scale)) * static_cast<float>(half(value))));
  }
  return out;
}

class FpGolden : public ::testing::TestWithParam<golden_case> {};

TEST_P(FpGolden, DequantizeMatchesMlx) {
  const golden_case& c = GetParam();
  const auto f = lowbit_tools::file::open(c.path());
  const mode m = mode_of(c);
  const std::size_t rows = f.at("wd").rows(), cols = f.at("wd").cols();
  const auto wq = f.at("wq").copy_as<std::uint32_t>();
  const auto scales = f.at("scales").copy_as<std::uint8_t>();
  float g = 0.0f;
  const float* global_scale = nullptr;
  if (c.has_global_scale()) {
    g = f.at("global_scale").copy_as<float>().at(0);
    global_scale = &g;
  }
  const std::string where = c.file + " (" + c.mode + (global_scale ? ", global scale" : "") + ")";
  ASSERT_EQ(scales.size(), rows * cols / static_cast<std::size_t>(lowbit::mode_group_size(m)));

  const auto wd_f32 = f.at("wd_f32").copy_as<float>();
  std::vector<float> out_f32(rows * cols);
  lowbit::dequantize(m, wq.data(), scales.data(), out_f32.data(), rows, cols, global_scale);
  EXPECT_TRUE(bit_equal(out_f32, wd_f32, where + " float32 output vs MLX wd_f32"));

  lowbit_test::with_dtype(f.at("wd").dtype, [&](auto tag) {  // MLX's default output type
    using O = typename decltype(tag)::type;
    const auto wd = f.at("wd").copy_as<O>();
    std::vector<O> out(rows * cols), out_ct(rows * cols);
    lowbit::dequantize(m, wq.data(), scales.data(), out.data(), rows, cols, global_scale);
    EXPECT_TRUE(bit_equal(out, wd, where + " runtime dequantize vs MLX wd"));
    lowbit::detail::with_fp_mode(m, [&](auto mc) {
      lowbit::dequantize<decltype(mc)::value>(wq.data(), scales.data(), out_ct.data(), rows, cols, global_scale);
    });
    EXPECT_TRUE(bit_equal(out_ct, wd, where + " compile-time dequantize vs MLX wd"));
  });
  if (f.at("wd").dtype == "F32") {  // the *_gscale files: bfloat16 output is MLX's float32 result, rounded
    std::vector<bfloat16> out_b(rows * cols), want_b;
    for (float v : wd_f32) want_b.push_back(bfloat16(v));
    lowbit::dequantize(m, wq.data(), scales.data(), out_b.data(), rows, cols, global_scale);
    EXPECT_TRUE(bit_equal(out_b, want_b, where + " bfloat16 output vs MLX's float32 rounded"));
  }

  std::vector<half> out_h(rows * cols);
  lowbit::dequantize(m, wq.data(), scales.data(), out_h.data(), rows, cols, global_scale);
  EXPECT_TRUE(bit_equal(out_h, expected_half(c, wq, scales, wd_f32), where + " half output vs the rule"));
  if (!HasFailure()) {
    ++g_totals.dequantize_files;
    g_totals.dequantize_elements += (global_scale ? 4 : 3) * rows * cols;
  }
}

TEST_P(FpGolden, QuantizeMatchesMlx) {
  const golden_case& c = GetParam();
  const auto f = lowbit_tools::file::open(c.path());
  const mode m = mode_of(c);
  const std::size_t rows = f.at("w").rows(), cols = f.at("w").cols();
  const auto wq_mlx = f.at("wq").copy_as<std::uint32_t>();
  const auto scales_mlx = f.at("scales").copy_as<std::uint8_t>();
  float g = 0.0f;
  const float* global_scale = nullptr;
  if (c.has_global_scale()) {
    g = f.at("global_scale").copy_as<float>().at(0);
    global_scale = &g;
  }
  lowbit_test::with_dtype(f.at("w").dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto w = f.at("w").copy_as<T>();
    std::vector<std::uint32_t> wq(wq_mlx.size(), 0xdeadbeefu);
    std::vector<std::uint8_t> scales(scales_mlx.size(), 0xAB);
    lowbit::quantize(m, w.data(), wq.data(), scales.data(), rows, cols, global_scale);
    const std::string where = c.file + " quantize";
    for (std::size_t i = 0; i < scales.size(); ++i) {
      ASSERT_EQ(int(scales[i]), int(scales_mlx[i])) << where << ": scale code of group " << i << " differs";
    }
    std::size_t first = wq.size(), count = 0;
    for (std::size_t i = 0; i < wq.size(); ++i) {
      if (wq[i] != wq_mlx[i]) {
        if (first == wq.size()) first = i;
        ++count;
      }
    }
    EXPECT_EQ(count, 0u) << where << ": " << count << " packed words differ; first at word " << first << ": got 0x"
                         << std::hex << (count ? wq[first] : 0) << ", want 0x" << (count ? wq_mlx[first] : 0);
    // The compile-time mode gives the same.
    std::vector<std::uint32_t> wq_ct(wq_mlx.size());
    std::vector<std::uint8_t> scales_ct(scales_mlx.size());
    lowbit::detail::with_fp_mode(m, [&](auto mc) {
      lowbit::quantize<decltype(mc)::value>(w.data(), wq_ct.data(), scales_ct.data(), rows, cols, global_scale);
    });
    EXPECT_EQ(wq_ct, wq_mlx) << where << " (compile-time mode)";
    EXPECT_EQ(scales_ct, scales_mlx) << where << " (compile-time mode)";
    if (!HasFailure()) {
      ++g_totals.quantize_files;
      g_totals.quantize_words += wq.size();
      g_totals.quantize_scales += scales.size();
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Mlx, FpGolden, ::testing::ValuesIn(fp_cases()),
                         [](const auto& info) { return lowbit_test::golden_test_name(info.param); });

TEST(FpGoldenData, ManifestListsEveryFpConfiguration) {
  const auto cases = fp_cases();
  EXPECT_EQ(cases.size(), 12u);  // 3 modes x 3 dtypes, and nvfp4 with a global scale x 3 dtypes
  int with_global_scale = 0;
  for (const auto& c : cases) {
    const mode m = lowbit::parse_mode(c.mode);
    EXPECT_EQ(c.bits, lowbit::mode_bits(m)) << c.file;
    EXPECT_EQ(c.group_size, lowbit::mode_group_size(m)) << c.file;
    EXPECT_NO_THROW(lowbit::check_mode(m, c.bits, c.group_size)) << c.file;
    with_global_scale += c.has_global_scale();
    EXPECT_EQ(c.wd_dtype, c.has_global_scale() ? "float32" : "bfloat16") << c.file;
  }
  EXPECT_EQ(with_global_scale, 3);
}

}  // namespace
