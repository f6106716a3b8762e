// Compiled with LOWBIT_FORCE_SCALAR on x86 and -march=armv8-a on aarch64 (see tests/CMakeLists.txt).
#include <lowbit/lowbit.hpp>

#ifdef LOWBIT_ODR_EIGEN
#include <lowbit/eigen.hpp>
#endif

#include "odr.hpp"

namespace {
void run(const std::uint32_t* wq, const lowbit::half* s, const lowbit::half* b, lowbit::half* out, std::size_t rows,
         std::size_t cols) {
  lowbit::dequantize<4, 64>(wq, s, b, out, rows, cols);
}
const char* name() { return lowbit::backend_name(); }
#ifdef LOWBIT_ODR_EIGEN
using words = lowbit::eigen::const_map<std::uint32_t>;
using halves = lowbit::eigen::const_map<lowbit::half>;
using out_map = Eigen::Map<lowbit::eigen::matrix<lowbit::half>>;
constexpr auto eigen_instance = &lowbit::eigen::dequantize<words, halves, halves, out_map>;
void eigen_run(const std::uint32_t* wq, const lowbit::half* s, const lowbit::half* b, lowbit::half* out,
               std::size_t rows, std::size_t cols) {
  const auto r = static_cast<Eigen::Index>(rows), c = static_cast<Eigen::Index>(cols);
  eigen_instance(words(wq, r, c / 8), halves(s, r, c / 64), halves(b, r, c / 64), out_map(out, r, c), 4, 64);
}
const void* eigen_address() { return reinterpret_cast<const void*>(eigen_instance); }
#else
constexpr odr::dequantize_fn eigen_run = nullptr;
const void* eigen_address() { return nullptr; }
#endif
}  // namespace

odr::unit odr::reference_unit() { return {name, run, eigen_run, eigen_address()}; }
