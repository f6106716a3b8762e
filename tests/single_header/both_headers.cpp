// The single header and the multi-file headers in one translation unit, in either order around each
// other: they share include guards, so every definition is seen once and the program builds and runs.
#include "../../include/lowbit/fp.hpp"
#include "../../single_include/lowbit/lowbit.hpp"
#include "../../include/lowbit/lowbit.hpp"

#include <cstdio>
#include <vector>

int main() {
  std::vector<std::uint32_t> wq(8, 0x76543210u);
  std::vector<lowbit::half> scales(1, lowbit::half(0.5f)), biases(1, lowbit::half(-1.0f));
  std::vector<float> out(64), want(64);
  lowbit::dequantize(wq.data(), scales.data(), biases.data(), out.data(), 1, 64);
  lowbit::scalar::dequantize(wq.data(), scales.data(), biases.data(), want.data(), 1, 64);
  const bool same = out == want && out[7] == 2.5f;
  std::printf("%s: both headers in one program, backend %s\n", same ? "ok" : "FAIL", lowbit::backend_name());
  return same ? 0 : 1;
}
