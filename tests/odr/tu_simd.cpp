// Compiled with -mavx512f -mavx512bw -mavx2 -mf16c -mfma on x86 and -march=armv8.2-a+fp16 on aarch64.
#include <lowbit/lowbit.hpp>

#include "odr.hpp"

namespace {
void run(const std::uint32_t* wq, const lowbit::half* s, const lowbit::half* b, lowbit::half* out, std::size_t rows,
         std::size_t cols) {
  lowbit::dequantize<4, 64>(wq, s, b, out, rows, cols);
}
const char* name() { return lowbit::backend_name(); }
}  // namespace

odr::unit odr::simd_unit() { return {name, run}; }
