// lowbit/eigen.hpp — the opt-in Eigen adapter: MLX-quantized weights into Eigen matrices.
//
//   #include <lowbit/eigen.hpp>        // CMake: target_link_libraries(app PRIVATE lowbit::eigen); Eigen >= 3.4
//
//   // Views over buffers you already hold (for instance the tensors of a loaded checkpoint), no copies:
//   auto wq     = lowbit::eigen::map_packed(wq_data, rows, cols, bits);               // rows x cols*bits/32
//   auto scales = lowbit::eigen::map_groups(scales_data, rows, cols, group_size);     // rows x cols/group_size
//   auto biases = lowbit::eigen::map_groups(biases_data, rows, cols, group_size);
//
//   // Into a row-major matrix you provide (or a block of one, a Map, an Eigen::Ref), written in place:
//   lowbit::eigen::matrix<float> w(rows, cols);
//   lowbit::eigen::dequantize(wq, scales, biases, w, bits, group_size);
//   Eigen::VectorXf y = w * x;
//
//   // Or a new dense matrix, in the scales' type (as MLX returns it) unless another is asked for:
//   lowbit::eigen::matrix<Eigen::half> w16 = lowbit::eigen::dequantize_matrix(wq, scales, biases, bits, group_size);
//   lowbit::eigen::matrix<float> w32 = lowbit::eigen::dequantize_matrix<float>(wq, scales, biases, bits, group_size);
//
//   // Or no dense copy at all: y = x W^T straight from the quantized weight (lowbit/matmul.hpp).
//   lowbit::eigen::matrix<float> y(x.rows(), rows);
//   lowbit::eigen::quantized_matmul(x, wq, scales, biases, y);
//
// Every argument is an Eigen object with direct access to row-major storage whose rows are contiguous
// (inner stride 1): Matrix<..., RowMajor>, Map and Ref of one, and blocks of these. Rows may be apart (an
// outer stride, e.g. a block of a wider matrix). Nothing is ever copied behind your back: an argument that
// would need a copy (column-major, or strided within a row) is a compile error or a lowbit::error, never a
// silent temporary, and the output is written in place.
//
// The element types are those of lowbit::dequantize (lowbit.hpp), plus Eigen::half and Eigen::bfloat16,
// which this header maps onto lowbit::half and lowbit::bfloat16 (lowbit::storage_of): they work with the
// pointer API too. Shapes: wq is rows x cols*bits/32 uint32 words, scales and biases rows x cols/group_size,
// out rows x cols. A shape that disagrees, bad bits or group_size throw lowbit::error before anything is
// written; the values are exactly lowbit::dequantize's (bit for bit as MLX).
//
// Not part of the single header (single_include/); copy this file next to it to use it there.
#ifndef LOWBIT_EIGEN_HPP
#define LOWBIT_EIGEN_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "lowbit.hpp"

#if !EIGEN_VERSION_AT_LEAST(3, 4, 0)
#error "lowbit/eigen.hpp needs Eigen 3.4 or newer (Eigen::bfloat16)."
#endif

namespace lowbit {

// Eigen's 2-byte types have the bit layout of lowbit's: their arrays are read and written in place.
template <>
struct storage_of<Eigen::half> {
  using type = half;
};
template <>
struct storage_of<Eigen::bfloat16> {
  using type = bfloat16;
};
static_assert(sizeof(Eigen::half) == 2 && std::is_trivially_copyable<Eigen::half>::value,
              "Eigen::half must be 2 trivially copyable bytes");
static_assert(sizeof(Eigen::bfloat16) == 2 && std::is_trivially_copyable<Eigen::bfloat16>::value,
              "Eigen::bfloat16 must be 2 trivially copyable bytes");

}  // namespace lowbit

// The adapter's code calls the active backend, so it lives in the backend's ABI namespace like the rest
// (config.hpp): translation units built with different -march flags then keep their own copies.
LOWBIT_BEGIN_NAMESPACE
namespace eigen {

/// A dense row-major matrix: the layout of MLX's arrays and of lowbit's output.
template <class T>
using matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// A read-only view of contiguous row-major data.
template <class T>
using const_map = Eigen::Map<const matrix<T>>;
/// Writable and read-only references to a row-major matrix or a block of one (never a copy).
template <class T>
using ref = Eigen::Ref<matrix<T>, 0, Eigen::OuterStride<>>;
template <class T>
using const_ref = Eigen::Ref<const matrix<T>, 0, Eigen::OuterStride<>>;

/// The packed words of a rows x cols weight, as MLX stores them: rows x cols*bits/32 uint32 values.
inline const_map<std::uint32_t> map_packed(const std::uint32_t* wq, Eigen::Index rows, Eigen::Index cols,
                                           int bits) {
  return const_map<std::uint32_t>(wq, rows, cols / 32 * bits);
}
/// The scales (or biases) of a rows x cols weight: rows x cols/group_size values.
template <class T>
const_map<T> map_groups(const T* values, Eigen::Index rows, Eigen::Index cols, int group_size) {
  return const_map<T>(values, rows, cols / group_size);
}

namespace detail {

template <class Derived>
constexpr bool has_row_major_storage() {
  return (Derived::Flags & Eigen::DirectAccessBit) != 0 && Derived::IsRowMajor &&
         (Derived::InnerStrideAtCompileTime == 1 || Derived::InnerStrideAtCompileTime == Eigen::Dynamic);
}

#define LOWBIT_EIGEN_CHECK_STORAGE(Derived, what)                                                            \
  static_assert(::lowbit::eigen::detail::has_row_major_storage<Derived>(),                                  \
                "lowbit::eigen: " what " must have row-major storage with contiguous rows (Matrix<..., "    \
                "RowMajor>, a Map, Ref or block of one); lowbit never copies an argument into a temporary")

inline std::string dims(Eigen::Index rows, Eigen::Index cols) {
  return std::to_string(rows) + " x " + std::to_string(cols);
}

// All the adapter's checks, before anything is written: bits and group_size (the core's checks, with
// lowbit::dequantize's messages), then that the four shapes agree and every row is contiguous.
template <class Wq, class Scales, class Biases, class Out>
void check_arguments(const Wq& wq, const Scales& scales, const Biases& biases, const Out& out, int bits,
                     int group_size) {
  const char* function = "eigen::dequantize";
  lowbit::detail::check_bits(function, bits);
  lowbit::detail::check_group_size(function, group_size);
  const Eigen::Index rows = out.rows(), cols = out.cols();
  if (cols % group_size != 0) {
    lowbit::detail::fail(function, "out has " + std::to_string(cols) + " columns, not a multiple of group_size " +
                                       std::to_string(group_size));
  }
  struct expected_shape {
    const char* name;
    Eigen::Index rows, cols, want_cols;
  };
  const Eigen::Index words = cols / 32 * bits, groups = cols / group_size;
  for (const expected_shape& e : {expected_shape{"wq", wq.rows(), wq.cols(), words},
                                  expected_shape{"scales", scales.rows(), scales.cols(), groups},
                                  expected_shape{"biases", biases.rows(), biases.cols(), groups}}) {
    if (e.rows != rows || e.cols != e.want_cols) {
      lowbit::detail::fail(function, std::string(e.name) + " is " + dims(e.rows, e.cols) + " but out " +
                                         dims(rows, cols) + " with bits " + std::to_string(bits) +
                                         " and group_size " + std::to_string(group_size) + " needs " +
                                         dims(rows, e.want_cols));
    }
  }
  const Eigen::Index inner_strides[] = {wq.innerStride(), scales.innerStride(), biases.innerStride(),
                                        out.innerStride()};
  const char* names[] = {"wq", "scales", "biases", "out"};
  for (int i = 0; i < 4; ++i) {
    if (inner_strides[i] != 1 && rows * cols != 0) {
      lowbit::detail::fail(function, std::string(names[i]) + " has inner stride " +
                                         std::to_string(inner_strides[i]) + "; its rows must be contiguous");
    }
  }
}

}  // namespace detail

/// Dequantizes wq/scales/biases into out (rows x cols, written in place) with bits and group_size given at
/// run time (MLX's defaults: 4, 64). out may be a Matrix, a block of one, a Map or a Ref; it must be
/// writable and row-major. Throws lowbit::error for a bad shape, bits or group_size; nothing is written then.
template <class WqDerived, class ScalesDerived, class BiasesDerived, class Out>
void dequantize(const Eigen::DenseBase<WqDerived>& wq, const Eigen::DenseBase<ScalesDerived>& scales,
                const Eigen::DenseBase<BiasesDerived>& biases, Out&& out, int bits = default_bits,
                int group_size = default_group_size) {
  using OutDerived = std::remove_reference_t<Out>;
  static_assert(std::is_base_of<Eigen::DenseBase<std::remove_const_t<OutDerived>>, std::remove_const_t<OutDerived>>::value,
                "lowbit::eigen: out must be an Eigen matrix, block, Map or Ref");
  static_assert(!std::is_const<OutDerived>::value && (OutDerived::Flags & Eigen::LvalueBit) != 0,
                "lowbit::eigen: out must be writable");
  LOWBIT_EIGEN_CHECK_STORAGE(WqDerived, "wq");
  LOWBIT_EIGEN_CHECK_STORAGE(ScalesDerived, "scales");
  LOWBIT_EIGEN_CHECK_STORAGE(BiasesDerived, "biases");
  LOWBIT_EIGEN_CHECK_STORAGE(OutDerived, "out");
  static_assert(std::is_same<typename WqDerived::Scalar, std::uint32_t>::value,
                "lowbit::eigen: wq must hold std::uint32_t words");
  static_assert(std::is_same<typename ScalesDerived::Scalar, typename BiasesDerived::Scalar>::value,
                "lowbit::eigen: scales and biases must have the same type");

  const WqDerived& w = wq.derived();
  const ScalesDerived& s = scales.derived();
  const BiasesDerived& b = biases.derived();
  detail::check_arguments(w, s, b, out, bits, group_size);
  const auto rows = static_cast<std::size_t>(out.rows()), cols = static_cast<std::size_t>(out.cols());
  if (rows == 0 || cols == 0) return;
  const bool contiguous = (rows == 1) || (w.outerStride() == w.cols() && s.outerStride() == s.cols() &&
                                          b.outerStride() == b.cols() && out.outerStride() == out.cols());
  if (contiguous) {
    lowbit::dequantize(w.data(), s.data(), b.data(), out.data(), rows, cols, bits, group_size);
    return;
  }
  for (std::size_t r = 0; r < rows; ++r) {  // rows apart in memory: one call per row
    const auto i = static_cast<Eigen::Index>(r);
    lowbit::dequantize(w.data() + i * w.outerStride(), s.data() + i * s.outerStride(),
                       b.data() + i * b.outerStride(), out.data() + i * out.outerStride(), 1, cols, bits,
                       group_size);
  }
}

/// Dequantizes into a new rows x cols matrix, rows and cols taken from scales and group_size. OutT defaults
/// to the scales' type (what MLX returns); pass float, Eigen::half, lowbit::bfloat16, ... to choose.
template <class OutT = void, class WqDerived, class ScalesDerived, class BiasesDerived>
auto dequantize_matrix(const Eigen::DenseBase<WqDerived>& wq, const Eigen::DenseBase<ScalesDerived>& scales,
                       const Eigen::DenseBase<BiasesDerived>& biases, int bits = default_bits,
                       int group_size = default_group_size) {
  using O = std::conditional_t<std::is_void<OutT>::value, typename ScalesDerived::Scalar, OutT>;
  lowbit::detail::check_group_size("eigen::dequantize", group_size);
  matrix<O> out(scales.rows(), scales.cols() * group_size);
  dequantize(wq, scales, biases, out, bits, group_size);
  return out;
}

namespace detail {
template <class Derived>
constexpr bool has_contiguous_storage() {
  return (Derived::Flags & Eigen::DirectAccessBit) != 0 &&
         (Derived::IsRowMajor || Derived::IsVectorAtCompileTime) &&
         (Derived::InnerStrideAtCompileTime == 1 || Derived::InnerStrideAtCompileTime == Eigen::Dynamic);
}
// The rows x cols of a matrix argument of quantized_matmul: a vector is one row.
template <class Derived>
Eigen::Index matmul_rows(const Derived& a) {
  return Derived::IsVectorAtCompileTime ? 1 : a.rows();
}
template <class Derived>
Eigen::Index matmul_cols(const Derived& a) {
  return Derived::IsVectorAtCompileTime ? a.size() : a.cols();
}
// Dense storage, rows adjacent: what the pointer API takes.
template <class Derived>
void check_dense(const char* function, const char* name, const Derived& a) {
  const bool dense = a.size() == 0 || (a.innerStride() == 1 && (Derived::IsVectorAtCompileTime || a.rows() == 1 ||
                                                                 a.outerStride() == a.cols()));
  if (!dense) {
    lowbit::detail::fail(function, std::string(name) + " must be dense (contiguous rows, adjacent to each other)");
  }
}
}  // namespace detail

/// y = x W^T (transpose, an LLM linear layer: W is N x K) or y = x W (W is K x N), with W quantized as
/// wq/scales/biases (as map_packed and map_groups view them); x is M x K and y M x N, written in place (a
/// vector x or y is one row: W x for a weight of N x K). Every argument dense and row-major (a Matrix<...,
/// RowMajor>, a Map, a Ref or block with adjacent rows, or a vector). The numerics, errors and threads
/// (opt) of lowbit::quantized_matmul (matmul.hpp); a shape that disagrees throws lowbit::error before
/// anything is written.
template <class XDerived, class WqDerived, class ScalesDerived, class BiasesDerived, class Y>
void quantized_matmul(const Eigen::DenseBase<XDerived>& x, const Eigen::DenseBase<WqDerived>& wq,
                      const Eigen::DenseBase<ScalesDerived>& scales, const Eigen::DenseBase<BiasesDerived>& biases,
                      Y&& y, bool transpose, const options& opt) {
  using YDerived = std::remove_reference_t<Y>;
  static_assert(!std::is_const<YDerived>::value && (YDerived::Flags & Eigen::LvalueBit) != 0,
                "lowbit::eigen: y must be writable");
  static_assert(detail::has_contiguous_storage<XDerived>() && detail::has_contiguous_storage<WqDerived>() &&
                    detail::has_contiguous_storage<ScalesDerived>() &&
                    detail::has_contiguous_storage<BiasesDerived>() && detail::has_contiguous_storage<YDerived>(),
                "lowbit::eigen: quantized_matmul takes row-major matrices (Matrix<..., RowMajor>, a Map, Ref or "
                "block of one) or vectors; lowbit never copies an argument into a temporary");
  static_assert(std::is_same<typename WqDerived::Scalar, std::uint32_t>::value,
                "lowbit::eigen: wq must hold std::uint32_t words");
  static_assert(std::is_same<typename ScalesDerived::Scalar, typename BiasesDerived::Scalar>::value,
                "lowbit::eigen: scales and biases must have the same type");
  const char* function = "eigen::quantized_matmul";
  const XDerived& xd = x.derived();
  const WqDerived& w = wq.derived();
  const ScalesDerived& s = scales.derived();
  const BiasesDerived& b = biases.derived();
  lowbit::detail::check_bits(function, opt.bits);
  lowbit::detail::check_group_size(function, opt.group_size);
  const Eigen::Index M = detail::matmul_rows(xd), K = detail::matmul_cols(xd);
  const Eigen::Index N = detail::matmul_cols(y);
  const Eigen::Index wrows = transpose ? N : K, wcols = transpose ? K : N;
  if (wcols % opt.group_size != 0) {
    lowbit::detail::fail(function, std::string(transpose ? "K" : "N") + " = " + std::to_string(wcols) +
                                       " is not a multiple of group_size " + std::to_string(opt.group_size));
  }
  struct expected_shape {
    const char* name;
    Eigen::Index rows, cols, want_rows, want_cols;
  };
  for (const expected_shape& e :
       {expected_shape{"y", detail::matmul_rows(y), N, M, N},
        expected_shape{"wq", w.rows(), w.cols(), wrows, wcols / 32 * opt.bits},
        expected_shape{"scales", s.rows(), s.cols(), wrows, wcols / opt.group_size},
        expected_shape{"biases", b.rows(), b.cols(), wrows, wcols / opt.group_size}}) {
    if (e.rows != e.want_rows || e.cols != e.want_cols) {
      lowbit::detail::fail(function, std::string(e.name) + " is " + detail::dims(e.rows, e.cols) + " but x " +
                                         detail::dims(M, K) + " and y " + detail::dims(detail::matmul_rows(y), N) +
                                         " with bits " + std::to_string(opt.bits) + " and group_size " +
                                         std::to_string(opt.group_size) + " need " +
                                         detail::dims(e.want_rows, e.want_cols));
    }
  }
  detail::check_dense(function, "x", xd);
  detail::check_dense(function, "wq", w);
  detail::check_dense(function, "scales", s);
  detail::check_dense(function, "biases", b);
  detail::check_dense(function, "y", y);
  lowbit::quantized_matmul(xd.data(), w.data(), s.data(), b.data(), y.data(), static_cast<std::size_t>(M),
                           static_cast<std::size_t>(N), static_cast<std::size_t>(K), transpose, opt);
}

/// The same with bits and group_size (MLX's defaults: 4, 64), on the calling thread.
template <class XDerived, class WqDerived, class ScalesDerived, class BiasesDerived, class Y>
void quantized_matmul(const Eigen::DenseBase<XDerived>& x, const Eigen::DenseBase<WqDerived>& wq,
                      const Eigen::DenseBase<ScalesDerived>& scales, const Eigen::DenseBase<BiasesDerived>& biases,
                      Y&& y, bool transpose = true, int bits = default_bits, int group_size = default_group_size) {
  options opt;
  opt.bits = bits;
  opt.group_size = group_size;
  quantized_matmul(x, wq, scales, biases, std::forward<Y>(y), transpose, opt);
}

}  // namespace eigen
LOWBIT_END_NAMESPACE

#undef LOWBIT_EIGEN_CHECK_STORAGE

#endif  // LOWBIT_EIGEN_HPP
