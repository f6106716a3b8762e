// Compiled with LOWBIT_FORCE_SCALAR on x86 and -march=armv8-a on aarch64 (see tests/CMakeLists.txt).
#include <lowbit/lowbit.hpp>

#include "odr.hpp"

namespace {
void run(const std::uint32_t* wq, const lowbit::half* s, const lowbit::half* b, lowbit::half* out, std::size_t rows,
         std::size_t cols) {
  lowbit::dequantize<4, 64>(wq, s, b, out, rows, cols);
}
const char* name() { return lowbit::backend_name(); }
}  // namespace

odr::unit odr::reference_unit() { return {name, run}; }
