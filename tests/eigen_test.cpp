// The Eigen adapter (<lowbit/eigen.hpp>): Eigen::half / Eigen::bfloat16 through lowbit, dequantize into
// caller-provided row-major matrices, blocks, maps and refs in place, the dense-matrix convenience, and
// its shape checks. Values are compared bit for bit with MLX's golden output.
#include <lowbit/eigen.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "golden.hpp"
#include "test_util.hpp"

namespace {

using lowbit::eigen::matrix;
using lowbit_test::golden_case;

template <class T>
std::vector<std::uint16_t> bits16(const T* p, std::size_t n) {
  std::vector<std::uint16_t> out(n);
  std::memcpy(out.data(), p, n * 2);
  return out;
}

// Compares n values of a 2-byte or float type with the bits of want.
template <class T, class W>
::testing::AssertionResult same_bits(const T* got, const std::vector<W>& want, const std::string& what) {
  static_assert(sizeof(T) == sizeof(W), "same width");
  if (std::memcmp(got, want.data(), want.size() * sizeof(W)) == 0) return ::testing::AssertionSuccess();
  std::size_t i = 0;
  while (std::memcmp(got + i, want.data() + i, sizeof(W)) == 0) ++i;
  return ::testing::AssertionFailure() << what << ": first difference at element " << i;
}

// One MLX golden file, with Eigen's element type for its scales.
template <class S>
struct golden_arrays {
  std::size_t rows, cols;
  std::vector<std::uint32_t> wq;
  std::vector<S> scales, biases, wd;
};
template <class S>
golden_arrays<S> load(const lowbit_tools::file& f) {
  return {f.at("wq").rows(), f.at("wd").cols(), f.at("wq").copy_as<std::uint32_t>(), f.at("scales").copy_as<S>(),
          f.at("biases").copy_as<S>(), f.at("wd").copy_as<S>()};
}

template <class F>
void with_eigen_dtype(const std::string& dtype, F&& f) {
  if (dtype == "F32") return f(lowbit_test::type_tag<float>{});
  if (dtype == "F16") return f(lowbit_test::type_tag<Eigen::half>{});
  if (dtype == "BF16") return f(lowbit_test::type_tag<Eigen::bfloat16>{});
  FAIL() << "unexpected dtype " << dtype;
}

class EigenGolden : public ::testing::TestWithParam<golden_case> {};

// Maps over the file's buffers, dequantize into a matrix, and the convenience returning one: MLX's wd.
TEST_P(EigenGolden, DequantizeIntoMatrixMatchesMlx) {
  const golden_case& c = GetParam();
  const auto f = lowbit_tools::file::open(c.path());
  with_eigen_dtype(f.at("scales").dtype, [&](auto tag) {
    using S = typename decltype(tag)::type;
    const auto g = load<S>(f);
    const auto rows = static_cast<Eigen::Index>(g.rows), cols = static_cast<Eigen::Index>(g.cols);
    const auto wq = lowbit::eigen::map_packed(g.wq.data(), rows, cols, c.bits);
    const auto scales = lowbit::eigen::map_groups(g.scales.data(), rows, cols, c.group_size);
    const auto biases = lowbit::eigen::map_groups(g.biases.data(), rows, cols, c.group_size);

    matrix<S> out(rows, cols);
    lowbit::eigen::dequantize(wq, scales, biases, out, c.bits, c.group_size);
    EXPECT_TRUE(same_bits(out.data(), g.wd, c.file + " dequantize into matrix"));

    const matrix<S> dense = lowbit::eigen::dequantize_matrix(wq, scales, biases, c.bits, c.group_size);
    ASSERT_EQ(dense.rows(), rows);
    ASSERT_EQ(dense.cols(), cols);
    EXPECT_TRUE(same_bits(dense.data(), g.wd, c.file + " dequantize_matrix"));

    const matrix<float> dense_f32 = lowbit::eigen::dequantize_matrix<float>(wq, scales, biases, c.bits, c.group_size);
    if (f.contains("wd_f32")) {
      EXPECT_TRUE(same_bits(dense_f32.data(), f.at("wd_f32").copy_as<float>(), c.file + " float32 output"));
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Mlx, EigenGolden, ::testing::ValuesIn(lowbit_test::golden_cases("affine")),
                         [](const auto& info) { return lowbit_test::golden_test_name(info.param); });

golden_arrays<Eigen::half> b4_gs64_half() {
  return load<Eigen::half>(lowbit_tools::file::open(lowbit_test::golden_dir() + "/affine_b4_gs64_float16.safetensors"));
}

TEST(EigenTypes, PointerApiReadsAndWritesEigenHalfAndBfloat16InPlace) {
  const auto g = b4_gs64_half();
  std::vector<Eigen::half> out(g.rows * g.cols);
  lowbit::dequantize(g.wq.data(), g.scales.data(), g.biases.data(), out.data(), g.rows, g.cols, 4, 64);
  EXPECT_TRUE(same_bits(out.data(), g.wd, "Eigen::half in, Eigen::half out"));

  std::vector<Eigen::bfloat16> out_bf(out.size());
  std::vector<lowbit::bfloat16> want_bf(out.size());
  lowbit::dequantize(g.wq.data(), g.scales.data(), g.biases.data(), out_bf.data(), g.rows, g.cols, 4, 64);
  const auto* scales = reinterpret_cast<const lowbit::half*>(g.scales.data());
  const auto* biases = reinterpret_cast<const lowbit::half*>(g.biases.data());
  lowbit::dequantize(g.wq.data(), scales, biases, want_bf.data(), g.rows, g.cols, 4, 64);
  EXPECT_TRUE(same_bits(out_bf.data(), want_bf, "Eigen::bfloat16 out"));
}

TEST(EigenOutput, BlockOfAWiderMatrixIsWrittenInPlaceAndNothingElse) {
  const auto g = b4_gs64_half();
  const auto rows = static_cast<Eigen::Index>(g.rows), cols = static_cast<Eigen::Index>(g.cols);
  matrix<Eigen::half> wide = matrix<Eigen::half>::Constant(rows + 2, cols + 64, Eigen::half(7.0f));
  auto block = wide.block(1, 32, rows, cols);  // rows are cols + 64 apart
  const Eigen::half* where = block.data();
  lowbit::eigen::dequantize(lowbit::eigen::map_packed(g.wq.data(), rows, cols, 4),
                            lowbit::eigen::map_groups(g.scales.data(), rows, cols, 64),
                            lowbit::eigen::map_groups(g.biases.data(), rows, cols, 64), block, 4, 64);
  EXPECT_EQ(block.data(), where);
  const matrix<Eigen::half> copy = block;
  EXPECT_TRUE(same_bits(copy.data(), g.wd, "block"));
  for (Eigen::Index r = 0; r < wide.rows(); ++r) {
    for (Eigen::Index c = 0; c < wide.cols(); ++c) {
      const bool inside = r >= 1 && r < 1 + rows && c >= 32 && c < 32 + cols;
      if (!inside) {
        ASSERT_EQ(static_cast<float>(wide(r, c)), 7.0f) << "outside the block at " << r << ", " << c;
      }
    }
  }
}

TEST(EigenOutput, RefAndMapOutputsAndStridedInputs) {
  const auto g = b4_gs64_half();
  const auto rows = static_cast<Eigen::Index>(g.rows), cols = static_cast<Eigen::Index>(g.cols);
  // Inputs as blocks of wider matrices (rows apart), passed through const refs.
  matrix<std::uint32_t> wq_wide = matrix<std::uint32_t>::Zero(rows, cols / 8 + 5);
  wq_wide.leftCols(cols / 8) = lowbit::eigen::map_packed(g.wq.data(), rows, cols, 4);
  matrix<Eigen::half> scales_wide(rows, cols / 64 + 3), biases_wide(rows, cols / 64 + 1);
  scales_wide.leftCols(cols / 64) = lowbit::eigen::map_groups(g.scales.data(), rows, cols, 64);
  biases_wide.leftCols(cols / 64) = lowbit::eigen::map_groups(g.biases.data(), rows, cols, 64);
  const lowbit::eigen::const_ref<std::uint32_t> wq = wq_wide.leftCols(cols / 8);
  const lowbit::eigen::const_ref<Eigen::half> scales = scales_wide.leftCols(cols / 64);
  const lowbit::eigen::const_ref<Eigen::half> biases = biases_wide.leftCols(cols / 64);
  EXPECT_EQ(wq.data(), wq_wide.data());  // a view, not a copy

  matrix<Eigen::half> target(rows, cols);
  lowbit::eigen::ref<Eigen::half> out = target;
  lowbit::eigen::dequantize(wq, scales, biases, out, 4, 64);
  EXPECT_TRUE(same_bits(target.data(), g.wd, "Ref output"));

  std::vector<Eigen::half> buffer(g.rows * g.cols);
  lowbit::eigen::dequantize(wq, scales, biases, Eigen::Map<matrix<Eigen::half>>(buffer.data(), rows, cols), 4, 64);
  EXPECT_TRUE(same_bits(buffer.data(), g.wd, "Map output (a temporary)"));
}

TEST(EigenErrors, ShapesThatDisagreeThrowAndWriteNothing) {
  const auto g = b4_gs64_half();
  const auto rows = static_cast<Eigen::Index>(g.rows), cols = static_cast<Eigen::Index>(g.cols);
  const auto wq = lowbit::eigen::map_packed(g.wq.data(), rows, cols, 4);
  const auto scales = lowbit::eigen::map_groups(g.scales.data(), rows, cols, 64);
  const auto biases = lowbit::eigen::map_groups(g.biases.data(), rows, cols, 64);
  matrix<float> out = matrix<float>::Constant(rows, cols, 3.0f);
  auto expect_error = [&](auto&& call, const std::string& message) {
    try {
      call();
      ADD_FAILURE() << "no error; expected: " << message;
    } catch (const lowbit::error& e) {
      EXPECT_EQ(std::string(e.what()), message);
    }
    EXPECT_TRUE((out.array() == 3.0f).all()) << "out was written before: " << message;
  };
  expect_error([&] { lowbit::eigen::dequantize(wq, scales, biases, out, 3, 64); },
               "[lowbit::eigen::dequantize] wq is 16 x 64 but out 16 x 512 with bits 3 and group_size 64 needs "
               "16 x 48");
  expect_error([&] { lowbit::eigen::dequantize(wq, scales, biases, out, 4, 32); },
               "[lowbit::eigen::dequantize] scales is 16 x 8 but out 16 x 512 with bits 4 and group_size 32 needs "
               "16 x 16");
  expect_error([&] { lowbit::eigen::dequantize(wq, scales, biases.topRows(3), out, 4, 64); },
               "[lowbit::eigen::dequantize] biases is 3 x 8 but out 16 x 512 with bits 4 and group_size 64 needs "
               "16 x 8");
  expect_error([&] { lowbit::eigen::dequantize(wq, scales, biases, out, 9, 64); },
               "[lowbit::eigen::dequantize] bits 9 is not supported; supported: 1, 2, 3, 4, 5, 6, 7, 8 (MLX ships 2, "
               "3, 4, 5, 6, 8)");
  expect_error([&] { lowbit::eigen::dequantize(wq, scales, biases, out.leftCols(96), 4, 64); },
               "[lowbit::eigen::dequantize] out has 96 columns, not a multiple of group_size 64");
}

TEST(EigenErrors, EmptyIsANoOp) {
  const matrix<std::uint32_t> wq(0, 8);
  const matrix<float> scales(0, 1), biases(0, 1);
  matrix<float> out(0, 64);
  EXPECT_NO_THROW(lowbit::eigen::dequantize(wq, scales, biases, out, 4, 64));
}

// Dequantize, then a matrix-vector product with Eigen: the product of the dequantized weight equals the
// product of MLX's own dequantized weight.
TEST(EigenUse, MatrixVectorProduct) {
  const auto f = lowbit_tools::file::open(lowbit_test::golden_dir() + "/affine_b4_gs64_float32.safetensors");
  const auto g = load<float>(f);
  const auto rows = static_cast<Eigen::Index>(g.rows), cols = static_cast<Eigen::Index>(g.cols);
  const matrix<float> w = lowbit::eigen::dequantize_matrix(lowbit::eigen::map_packed(g.wq.data(), rows, cols, 4),
                                                           lowbit::eigen::map_groups(g.scales.data(), rows, cols, 64),
                                                           lowbit::eigen::map_groups(g.biases.data(), rows, cols, 64),
                                                           4, 64);
  const Eigen::VectorXf x = Eigen::VectorXf::LinSpaced(cols, -1.0f, 1.0f);
  const Eigen::VectorXf y = w * x;
  const Eigen::VectorXf want = lowbit::eigen::const_map<float>(g.wd.data(), rows, cols) * x;
  EXPECT_TRUE(y == want);
}

// quantized_matmul from Eigen objects: the pointer API's result (the same code), for a matrix x in
// Eigen::half, a vector x, and y in a block of a wider matrix; shapes that disagree throw and write nothing.
TEST(EigenMatmul, MatchesThePointerApi) {
  const auto f = lowbit_tools::file::open(lowbit_test::golden_dir() + "/affine_b4_gs64_float16.safetensors");
  const auto g = load<Eigen::half>(f);
  const auto N = static_cast<Eigen::Index>(g.rows), K = static_cast<Eigen::Index>(g.cols);
  const auto wq = lowbit::eigen::map_packed(g.wq.data(), N, K, 4);
  const auto scales = lowbit::eigen::map_groups(g.scales.data(), N, K, 64);
  const auto biases = lowbit::eigen::map_groups(g.biases.data(), N, K, 64);
  const Eigen::Index M = 3;
  matrix<Eigen::half> x(M, K);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = Eigen::half(static_cast<float>(i % 17) / 8 - 1);
  matrix<float> want(M, N), y(M, N);
  lowbit::quantized_matmul(x.data(), g.wq.data(), g.scales.data(), g.biases.data(), want.data(),
                           static_cast<std::size_t>(M), static_cast<std::size_t>(N), static_cast<std::size_t>(K));
  lowbit::eigen::quantized_matmul(x, wq, scales, biases, y);
  EXPECT_TRUE(y == want);

  matrix<float> wide = matrix<float>::Constant(M, N + 5, 7.0f);  // rows apart: refused, nothing written
  EXPECT_THROW(lowbit::eigen::quantized_matmul(x, wq, scales, biases, wide.leftCols(N)), lowbit::error);
  EXPECT_TRUE((wide.array() == 7.0f).all());

  const Eigen::VectorXf v = x.row(1).cast<float>();  // y = W v
  Eigen::VectorXf yv(N);
  lowbit::eigen::quantized_matmul(v, wq, scales, biases, yv);
  matrix<float> want_v(1, N);
  lowbit::quantized_matmul(v.data(), g.wq.data(), g.scales.data(), g.biases.data(), want_v.data(), 1,
                           static_cast<std::size_t>(N), static_cast<std::size_t>(K));
  EXPECT_TRUE(yv.transpose() == want_v);

  matrix<float> out = matrix<float>::Constant(M, N, 3.0f);
  try {
    lowbit::eigen::quantized_matmul(x, wq, scales.leftCols(4), biases, out);
    ADD_FAILURE() << "no error";
  } catch (const lowbit::error& e) {
    EXPECT_EQ(std::string(e.what()), "[lowbit::eigen::quantized_matmul] scales is " + std::to_string(N) +
                                         " x 4 but x 3 x 512 and y 3 x " + std::to_string(N) +
                                         " with bits 4 and group_size 64 need " + std::to_string(N) + " x 8");
  }
  EXPECT_TRUE((out.array() == 3.0f).all());
}

}  // namespace
