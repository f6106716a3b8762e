// Instruction counts per element of the NEON kernels, for ../shared/tools/qemu-insncount/neon-insns
// (scripts/neon-insns.sh builds this statically for aarch64 and runs it). Each measured kernel runs
// once over 65,536 elements from a noinline driver whose name says what it measures; the script adds the
// driver's count and the kernel function's (when the compiler did not inline it into the driver).
// `neon_insns qmv M X REPS` instead runs quantized_matmul REPS times (N = 256, K = 2048, 4 bits, group 64,
// half scales, float y; x float or half, M rows), through the public API: the script counts the whole
// program for two values of REPS, and the difference is the cost of the calls, every function included.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <lowbit/lowbit.hpp>

namespace {
constexpr std::size_t kElements = 65536;

template <class Kernels, int Bits, class S, class O>
void run(const std::vector<std::uint32_t>& wq, const std::vector<S>& s, const std::vector<S>& b, std::vector<O>& out) {
  Kernels::template dequantize<Bits, 64>(wq.data(), s.data(), b.data(), out.data(), kElements / 64);
}
}  // namespace

// One noinline function per measurement: <kernels>_b<bits>_<scale type>_<output type>.
#define LOWBIT_MEASURE(kernels, bits, S, O)                                                                   \
  LOWBIT_NOINLINE void kernels##_b##bits##_##S##_##O(const std::vector<std::uint32_t>& wq,                   \
                                                     const std::vector<lowbit::S>& s,                        \
                                                     const std::vector<lowbit::S>& b, std::vector<lowbit::O>& o) { \
    run<lowbit::detail::kernels, bits>(wq, s, b, o);                                                         \
  }

namespace lowbit {
using float_ = float;  // so that the macro can spell lowbit::float_
}
#define LOWBIT_MEASURE_ALL(kernels)            \
  LOWBIT_MEASURE(kernels, 3, half, half)       \
  LOWBIT_MEASURE(kernels, 4, half, half)       \
  LOWBIT_MEASURE(kernels, 8, half, half)       \
  LOWBIT_MEASURE(kernels, 3, float_, float_)   \
  LOWBIT_MEASURE(kernels, 4, float_, float_)   \
  LOWBIT_MEASURE(kernels, 8, float_, float_)

LOWBIT_MEASURE_ALL(active_kernels)
LOWBIT_MEASURE_ALL(scalar_kernels)

// quantized_matmul.
constexpr std::size_t kN = 256, kK = 2048;
template <class X>
void qmv(std::size_t M, const std::vector<X>& x, const std::vector<std::uint32_t>& wq,
         const std::vector<lowbit::half>& s, const std::vector<lowbit::half>& b, std::vector<float>& y) {
  lowbit::quantized_matmul(x.data(), wq.data(), s.data(), b.data(), y.data(), M, kN, kK);
}

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "qmv") {
    const std::size_t M = std::stoul(argv[2]), reps = std::stoul(argv[4]);
    const bool half_x = std::string(argv[3]) == "half";
    std::vector<std::uint32_t> wq(kN * kK / 8);
    for (std::size_t i = 0; i < wq.size(); ++i) wq[i] = static_cast<std::uint32_t>(i * 2654435761u);
    std::vector<lowbit::half> s(kN * kK / 64, lowbit::half(0.01f)), b(kN * kK / 64, lowbit::half(-0.08f));
    std::vector<float> xf(M * kK, 0.5f), y(M * kN);
    std::vector<lowbit::half> xh(M * kK, lowbit::half(0.5f));
    for (std::size_t r = 0; r < reps; ++r) half_x ? qmv(M, xh, wq, s, b, y) : qmv(M, xf, wq, s, b, y);
    std::printf("qmv M %zu, x %s, %zu calls: y[0] %g\n", M, half_x ? "half" : "float", reps, static_cast<double>(y[0]));
    return 0;
  }
  std::vector<std::uint32_t> wq(kElements);  // enough words for 8 bits
  for (std::size_t i = 0; i < wq.size(); ++i) wq[i] = static_cast<std::uint32_t>(i * 2654435761u);
  std::vector<lowbit::half> hs(kElements / 64, lowbit::half(0.01f)), hb(kElements / 64, lowbit::half(-0.08f));
  std::vector<float> fs(kElements / 64, 0.01f), fb(kElements / 64, -0.08f);
  std::vector<lowbit::half> ho(kElements);
  std::vector<float> fo(kElements);
#define LOWBIT_CALL_ALL(kernels)              \
  kernels##_b3_half_half(wq, hs, hb, ho);     \
  kernels##_b4_half_half(wq, hs, hb, ho);     \
  kernels##_b8_half_half(wq, hs, hb, ho);     \
  kernels##_b3_float__float_(wq, fs, fb, fo); \
  kernels##_b4_float__float_(wq, fs, fb, fo); \
  kernels##_b8_float__float_(wq, fs, fb, fo);
  LOWBIT_CALL_ALL(active_kernels)
  LOWBIT_CALL_ALL(scalar_kernels)
  std::printf("backend %s, %zu elements per kernel\n", lowbit::backend_name(), kElements);
  return 0;
}
