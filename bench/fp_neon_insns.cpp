// Instruction counts per element of the NEON fp-mode kernels (mxfp4, nvfp4, mxfp8), for
// ../shared/tools/qemu-insncount/neon-insns. Each measured kernel runs once over 65,536 elements inside a
// noinline, flattened function named fp_<kernels>_<mode>_<output type>. Build and count, e.g.:
//
//   aarch64-linux-gnu-g++ -std=c++17 -O2 -static -march=armv8.6-a+fp16+bf16 -Iinclude \
//       bench/fp_neon_insns.cpp -o build/fp_neon_insns
//   ../shared/tools/qemu-insncount/neon-insns --elements 65536 --sym 'fp_(active|scalar)_kernels_' build/fp_neon_insns
//
// Scale codes are ordinary (finite scale factors), as in real checkpoints.
#include <cstdint>
#include <cstdio>
#include <vector>

#include <lowbit/lowbit.hpp>

namespace {
constexpr std::size_t kElements = 65536;

template <class Kernels, lowbit::mode M, class O>
void run(const std::vector<std::uint32_t>& wq, const std::vector<std::uint8_t>& s, std::vector<O>& out) {
  Kernels::template dequantize_fp<M>(wq.data(), s.data(), out.data(), kElements / lowbit::mode_group_size(M), 0.0f);
}
}  // namespace

namespace lowbit {
using float_ = float;
}

#define LOWBIT_FP_MEASURE(kernels, m, O)                                                                  \
  LOWBIT_NOINLINE __attribute__((flatten)) void fp_##kernels##_##m##_##O(                                      \
      const std::vector<std::uint32_t>& wq, const std::vector<std::uint8_t>& s, std::vector<lowbit::O>& o) { \
    run<lowbit::detail::kernels, lowbit::mode::m>(wq, s, o);                                               \
  }
#define LOWBIT_FP_MEASURE_ALL(kernels)          \
  LOWBIT_FP_MEASURE(kernels, mxfp4, float_)     \
  LOWBIT_FP_MEASURE(kernels, mxfp4, half)       \
  LOWBIT_FP_MEASURE(kernels, mxfp4, bfloat16)   \
  LOWBIT_FP_MEASURE(kernels, nvfp4, float_)     \
  LOWBIT_FP_MEASURE(kernels, nvfp4, half)       \
  LOWBIT_FP_MEASURE(kernels, nvfp4, bfloat16)   \
  LOWBIT_FP_MEASURE(kernels, mxfp8, float_)     \
  LOWBIT_FP_MEASURE(kernels, mxfp8, half)       \
  LOWBIT_FP_MEASURE(kernels, mxfp8, bfloat16)

LOWBIT_FP_MEASURE_ALL(active_kernels)
LOWBIT_FP_MEASURE_ALL(scalar_kernels)

int main() {
  std::vector<std::uint32_t> wq(kElements / 4);  // enough words for 8 bits
  for (std::size_t i = 0; i < wq.size(); ++i) wq[i] = static_cast<std::uint32_t>(i * 2654435761u);
  std::vector<std::uint8_t> s(kElements / 16);
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(110 + i % 24);  // finite in every type
  std::vector<float> fo(kElements);
  std::vector<lowbit::half> ho(kElements);
  std::vector<lowbit::bfloat16> bo(kElements);
#define LOWBIT_FP_CALL_ALL(kernels)  \
  kernels##_mxfp4_float_(wq, s, fo); \
  kernels##_mxfp4_half(wq, s, ho);   \
  kernels##_mxfp4_bfloat16(wq, s, bo); \
  kernels##_nvfp4_float_(wq, s, fo); \
  kernels##_nvfp4_half(wq, s, ho);   \
  kernels##_nvfp4_bfloat16(wq, s, bo); \
  kernels##_mxfp8_float_(wq, s, fo); \
  kernels##_mxfp8_half(wq, s, ho);   \
  kernels##_mxfp8_bfloat16(wq, s, bo);
  LOWBIT_FP_CALL_ALL(active_kernels)
  LOWBIT_FP_CALL_ALL(scalar_kernels)
  std::printf("backend %s, %zu elements per kernel\n", lowbit::detail::active_kernels::name, kElements);
  return 0;
}
