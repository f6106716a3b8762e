// A program outside lowbit's tree, as a user writes it: includes <lowbit/lowbit.hpp>, calls the public API
// with its exact signatures, and checks the results against rows MLX itself produced.
#include <lowbit/lowbit.hpp>

#include <cstdio>
#include <cstring>
#include <vector>

#include "mlx_cases.hpp"

namespace {

template <class T>
std::vector<T> from_bits(const std::uint16_t* bits, std::size_t n) {
  std::vector<T> out(n);
  std::memcpy(out.data(), bits, n * 2);
  return out;
}

int failures = 0;

template <class T>
void expect_bits(const char* what, const std::vector<T>& got, const void* want) {
  if (std::memcmp(got.data(), want, got.size() * sizeof(T)) != 0) {
    std::printf("FAIL: %s differs from MLX\n", what);
    ++failures;
  } else {
    std::printf("ok: %s matches MLX (%zu elements)\n", what, got.size());
  }
}

}  // namespace

int main() {
  using namespace mlx_cases;
  std::printf("lowbit %s, backend %s\n", LOWBIT_VERSION_STRING, lowbit::backend_name());
#ifdef LOWBIT_SINGLE_HEADER
  std::printf("through the single header\n");
#endif

  {  // 4-bit, group 64, float16: the compile-time overload.
    const auto s = from_bits<lowbit::half>(case0_scales, sizeof case0_scales / 2);
    const auto b = from_bits<lowbit::half>(case0_biases, sizeof case0_biases / 2);
    std::vector<lowbit::half> out(case0::rows * case0::cols);
    const std::uint32_t* wq = case0_wq;
    const lowbit::half* scales = s.data();
    const lowbit::half* biases = b.data();
    lowbit::half* o = out.data();
    lowbit::dequantize<4, 64>(wq, scales, biases, o, case0::rows, case0::cols);
    expect_bits("dequantize<4, 64>, float16", out, case0_wd);
    std::vector<lowbit::half> out_rt(out.size());
    lowbit::dequantize(wq, scales, biases, out_rt.data(), case0::rows, case0::cols);  // defaults: 4, 64
    expect_bits("dequantize(..., defaults), float16", out_rt, case0_wd);
  }
  {  // 3-bit (codes straddle words), group 32, bfloat16: the run-time overload.
    const auto s = from_bits<lowbit::bfloat16>(case1_scales, sizeof case1_scales / 2);
    const auto b = from_bits<lowbit::bfloat16>(case1_biases, sizeof case1_biases / 2);
    std::vector<lowbit::bfloat16> out(case1::rows * case1::cols);
    lowbit::dequantize(case1_wq, s.data(), b.data(), out.data(), case1::rows, case1::cols, case1::bits,
                       case1::group_size);
    expect_bits("dequantize(..., 3, 32), bfloat16", out, case1_wd);
  }
  {  // 6-bit, group 128, float32.
    std::vector<float> s(sizeof case2_scales / 4), b(sizeof case2_biases / 4), out(case2::rows * case2::cols);
    std::memcpy(s.data(), case2_scales, sizeof case2_scales);
    std::memcpy(b.data(), case2_biases, sizeof case2_biases);
    lowbit::dequantize<6, 128>(case2_wq, s.data(), b.data(), out.data(), case2::rows, case2::cols);
    expect_bits("dequantize<6, 128>, float32", out, case2_wd);
  }
  try {  // errors are lowbit::error
    float s = 1, b = 0, o = 0;
    std::uint32_t w = 0;
    lowbit::dequantize(&w, &s, &b, &o, 1, 32, 9, 32);
    std::printf("FAIL: no error for bits 9\n");
    ++failures;
  } catch (const lowbit::error& e) {
    std::printf("ok: lowbit::error: %s\n", e.what());
  }
  return failures == 0 ? 0 : 1;
}
