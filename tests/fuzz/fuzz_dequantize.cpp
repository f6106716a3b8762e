// Differential fuzz target: the active backend against the scalar reference, on random configurations,
// shapes and bytes. Built with clang -fsanitize=fuzzer,address,undefined (libFuzzer), or without
// libFuzzer as a replay program that runs the files named on its command line (the seed corpus in
// tests/fuzz/corpus is replayed this way by ctest, also under qemu).
//
// Input layout: byte 0 bits (raw: values outside 1..8 must raise lowbit::error), byte 1 group size
// selector, byte 2 scale and output types, byte 3 rows - 1 (mod 16), byte 4 groups per row - 1 (mod 8),
// byte 5 output offset in elements (mod 4); the rest fills wq, scales and biases, cycled.
//
// Floating-point modes (fp.hpp) when bit 7 of byte 0 is set: bits 0-1 of byte 0 the mode (0 = affine, which
// the fp overloads must reject), bit 6 quantize (scalar only: run for the sanitizers and checked for
// determinism) instead of dequantize; byte 1 the global scale (bit 0: given; it must be rejected unless the
// mode is nvfp4), byte 2 the output (or input) type, bytes 3-5 as above; the rest fills the global scale,
// wq and scales (or w), cycled. Dequantize must match the scalar reference in every bit, NaNs included.
//
// quantized_matmul when bits 7 and 5 of byte 0 are set: bits 0-1 the mode (0 affine), bit 4 transpose, bit 3
// an executor that runs each task alone; byte 1 bits (1 + (b >> 1) % 8), group size ((b >> 4) % 3) and
// nvfp4's global scale (bit 0); byte 2 the x, scale and y types (mod 27); byte 3 the unquantized dimension
// - 1 (mod 16), byte 4 groups along the quantized one - 1 (mod 8), byte 5 M - 1 (mod 9); the rest, as small
// values, fills x, wq, scales and biases. The active backend and the scalar reference (affine) must both be
// within the error bound of lowbit/matmul.hpp of the exact product.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <vector>

#include <lowbit/lowbit.hpp>

#ifdef LOWBIT_TEST_SHARED_INSTANCES  // the replay test: the kernels compiled once per build
#include "instances.hpp"
#endif

namespace {

template <class T>
std::uint32_t bits_of(T v) {
  if constexpr (std::is_same<T, float>::value) {
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    return u;
  } else {
    return v.to_bits();
  }
}

// Fills n values of T from the input bytes, cycling through them.
template <class T>
std::vector<T> fill(const std::uint8_t* data, std::size_t size, std::size_t& pos, std::size_t n) {
  std::vector<T> out(n);
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  for (std::size_t i = 0; i < n * sizeof(T); ++i) bytes[i] = size ? data[pos++ % size] : static_cast<unsigned char>(i);
  return out;
}

template <class S, class O>
void run(const std::uint8_t* data, std::size_t size, int bits, int group_size, std::size_t rows,
         std::size_t groups_per_row, std::size_t offset) {
  const std::size_t cols = groups_per_row * static_cast<std::size_t>(group_size);
  const bool valid_bits = lowbit::format::is_supported_bits(bits);
  std::size_t pos = 0;
  const std::size_t words = valid_bits ? rows * cols * static_cast<std::size_t>(bits) / 32 : 1;
  const auto wq = fill<std::uint32_t>(data, size, pos, words);
  const auto scales = fill<S>(data, size, pos, rows * groups_per_row);
  const auto biases = fill<S>(data, size, pos, rows * groups_per_row);
  std::vector<O> want(rows * cols), got(rows * cols + offset);
  try {
    lowbit::dequantize(wq.data(), scales.data(), biases.data(), got.data() + offset, rows, cols, bits, group_size);
  } catch (const lowbit::error&) {
    if (valid_bits) std::abort();  // everything else here is valid
    return;
  }
  if (!valid_bits) std::abort();  // an unsupported bit width was accepted
  lowbit::scalar::dequantize(wq.data(), scales.data(), biases.data(), want.data(), rows, cols, bits, group_size);
  for (std::size_t i = 0; i < want.size(); ++i) {
    const O a = got[offset + i], b = want[i];
    if (bits_of(a) == bits_of(b)) continue;
    // Only when both s*q and b are NaN may the NaN payload differ (see tests/backend_test.cpp).
    const std::size_t g = i / static_cast<std::size_t>(group_size);
    const float q = static_cast<float>(lowbit::format::code_at(wq.data(), i, bits));
    const bool both_nan = std::isnan(static_cast<float>(scales[g]) * q) && std::isnan(static_cast<float>(biases[g]));
    if (both_nan && std::isnan(static_cast<float>(a)) && std::isnan(static_cast<float>(b))) continue;
    std::fprintf(stderr, "mismatch: backend %s, bits %d, group_size %d, %s -> %s, element %zu: 0x%x vs scalar 0x%x\n",
                 lowbit::backend_name(), bits, group_size, lowbit::detail::type_name<S>(),
                 lowbit::detail::type_name<O>(), i, static_cast<unsigned>(bits_of(a)), static_cast<unsigned>(bits_of(b)));
    std::abort();
  }
}

template <class S>
void with_output(int selector, const std::uint8_t* data, std::size_t size, int bits, int group_size,
                 std::size_t rows, std::size_t groups, std::size_t offset) {
  switch (selector % 3) {
    case 0: return run<S, float>(data, size, bits, group_size, rows, groups, offset);
    case 1: return run<S, lowbit::half>(data, size, bits, group_size, rows, groups, offset);
    default: return run<S, lowbit::bfloat16>(data, size, bits, group_size, rows, groups, offset);
  }
}

// ---- floating-point modes ----------------------------------------------------------------------------
template <class O>
void run_fp_dequantize(const std::uint8_t* data, std::size_t size, lowbit::mode m, bool has_global, std::size_t rows,
                       std::size_t groups_per_row, std::size_t offset) {
  const bool fp = lowbit::is_fp_mode(m);
  const std::size_t group_size = static_cast<std::size_t>(lowbit::mode_group_size(m));
  const std::size_t cols = groups_per_row * group_size;
  std::size_t pos = 0;
  const auto global = fill<float>(data, size, pos, 1);
  const auto wq = fill<std::uint32_t>(data, size, pos, rows * cols * static_cast<std::size_t>(lowbit::mode_bits(m)) / 32);
  const auto scales = fill<std::uint8_t>(data, size, pos, rows * groups_per_row);
  const float* global_scale = has_global ? global.data() : nullptr;
  const bool valid = fp && (!has_global || m == lowbit::mode::nvfp4);
  std::vector<O> want(rows * cols), got(rows * cols + offset);
  try {
    lowbit::dequantize(m, wq.data(), scales.data(), got.data() + offset, rows, cols, global_scale);
  } catch (const lowbit::error&) {
    if (valid) std::abort();
    return;
  }
  if (!valid) std::abort();  // affine or a misplaced global scale was accepted
  lowbit::scalar::dequantize(m, wq.data(), scales.data(), want.data(), rows, cols, global_scale);
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (bits_of(got[offset + i]) == bits_of(want[i])) continue;
    std::fprintf(stderr, "mismatch: backend %s, mode %s, -> %s, element %zu: 0x%x vs scalar 0x%x\n",
                 lowbit::backend_name(), lowbit::mode_name(m), lowbit::detail::type_name<O>(), i,
                 static_cast<unsigned>(bits_of(got[offset + i])), static_cast<unsigned>(bits_of(want[i])));
    std::abort();
  }
}

template <class T>
void run_fp_quantize(const std::uint8_t* data, std::size_t size, lowbit::mode m, bool has_global, std::size_t rows,
                     std::size_t groups_per_row) {
  const bool fp = lowbit::is_fp_mode(m);
  const std::size_t group_size = static_cast<std::size_t>(lowbit::mode_group_size(m));
  const std::size_t cols = groups_per_row * group_size;
  std::size_t pos = 0;
  const auto global = fill<float>(data, size, pos, 1);
  const auto w = fill<T>(data, size, pos, rows * cols);
  const float* global_scale = has_global ? global.data() : nullptr;
  const bool valid = fp && (!has_global || m == lowbit::mode::nvfp4);
  std::vector<std::uint32_t> wq1(rows * cols * static_cast<std::size_t>(lowbit::mode_bits(m)) / 32), wq2(wq1.size());
  std::vector<std::uint8_t> s1(rows * groups_per_row), s2(s1.size());
  try {
    lowbit::quantize(m, w.data(), wq1.data(), s1.data(), rows, cols, global_scale);
  } catch (const lowbit::error&) {
    if (valid) std::abort();
    return;
  }
  if (!valid) std::abort();
  lowbit::quantize(m, w.data(), wq2.data(), s2.data(), rows, cols, global_scale);
  if (wq1 != wq2 || s1 != s2) std::abort();  // deterministic
}

template <class T>
void run_fp(const std::uint8_t* head, const std::uint8_t* data, std::size_t size) {
  const auto m = static_cast<lowbit::mode>(head[0] & 3);
  const bool quantize = (head[0] & 0x40) != 0, has_global = (head[1] & 1) != 0;
  const std::size_t rows = 1 + head[3] % 16, groups = 1 + head[4] % 8, offset = head[5] % 4;
  if (quantize) {
    run_fp_quantize<T>(data, size, m, has_global, rows, groups);
  } else {
    run_fp_dequantize<T>(data, size, m, has_global, rows, groups, offset);
  }
}

// ---- quantized_matmul ----------------------------------------------------------------------------------
// A byte as a small value of T (b as int8 times unit): x, scales and biases keep float32 far from overflow, so
// the float32 result must be within the bound of lowbit/matmul.hpp of the exact one, computed here in double.
// A half output can still overflow (|y| up to ~1.4e5 > 65504): there the rounded result is inf.
template <class T>
T small(std::uint8_t b, float unit) {
  return T(static_cast<float>(static_cast<std::int8_t>(b)) * unit);
}

// The exact weight w(n, k) of the (transposed) product and |s q| + |b| (affine) or |w| (fp modes).
struct exact_weight {
  std::function<double(std::size_t, std::size_t, double&)> at;
};

template <class XT, class YT>
void check_product(const char* what, const std::vector<XT>& x, const std::vector<YT>& y, const exact_weight& w,
                   std::size_t M, std::size_t N, std::size_t K, bool transpose) {
  const double u = std::ldexp(1.0, -24), n = static_cast<double>(K + 2), gamma = n * u / (1 - n * u);
  const double half_ulp = std::is_same<YT, float>::value ? u : std::is_same<YT, lowbit::half>::value ? std::ldexp(1.0, -11)
                                                                                                       : std::ldexp(1.0, -8);
  const double tiny = std::is_same<YT, float>::value ? std::ldexp(1.0, -150)
                      : std::is_same<YT, lowbit::half>::value ? std::ldexp(1.0, -25) : std::ldexp(1.0, -134);
  const double overflow = std::is_same<YT, float>::value ? std::ldexp(2.0 - std::ldexp(1.0, -24), 127)
                          : std::is_same<YT, lowbit::half>::value ? 65520.0 : std::ldexp(2.0 - std::ldexp(1.0, -8), 127);
  for (std::size_t m = 0; m < M; ++m) {
    for (std::size_t j = 0; j < N; ++j) {
      double exact = 0, magnitude = 0;
      for (std::size_t k = 0; k < K; ++k) {
        double mag = 0;
        const double v = transpose ? w.at(j, k, mag) : w.at(k, j, mag);
        const double xv = static_cast<double>(static_cast<float>(x[m * K + k]));
        exact += v * xv;
        magnitude += mag * std::fabs(xv);
      }
      const double got = static_cast<double>(static_cast<float>(y[m * N + j]));
      const double allowed = gamma * magnitude + std::max(std::fabs(exact) * half_ulp, tiny);
      // Inf of the right sign is the correctly rounded output once the float32 sum may reach YT's overflow
      // threshold (the largest finite value plus half an ulp of it).
      const bool may_overflow = std::fabs(exact) + allowed >= overflow;
      if (std::isinf(got) && may_overflow && (got > 0) == (exact > 0)) continue;
      if (!(std::fabs(got - exact) <= allowed)) {
        std::fprintf(stderr, "%s: backend %s, y[%zu][%zu] = %.9g, exact %.9g, allowed error %.3g\n", what,
                     lowbit::backend_name(), m, j, got, exact, allowed);
        std::abort();
      }
    }
  }
}

// An executor that runs every task on its own, last first: any split must give a result within the bound.
void reversed_tasks(std::size_t count, const std::function<void(std::size_t, std::size_t)>& task) {
  for (std::size_t t = count; t-- > 0;) task(t, t + 1);
}

template <class XT, class ST, class YT>
void run_matmul(const std::uint8_t* head, const std::uint8_t* data, std::size_t size) {
  const auto m = static_cast<lowbit::mode>(head[0] & 3);
  const bool transpose = (head[0] & 0x10) != 0, split = (head[0] & 0x08) != 0;
  const int bits = 1 + (head[1] >> 1) % 8;
  static const int group_sizes[] = {32, 64, 128};
  const int gs = m == lowbit::mode::affine ? group_sizes[(head[1] >> 4) % 3] : lowbit::mode_group_size(m);
  const int code_bits = m == lowbit::mode::affine ? bits : lowbit::mode_bits(m);
  const std::size_t M = 1 + head[5] % 9, rows = 1 + head[3] % 16, groups = 1 + head[4] % 8;
  // The quantized dimension (K transposed, N otherwise) is groups * gs; the other one `rows`.
  const std::size_t K = transpose ? groups * static_cast<std::size_t>(gs) : rows;
  const std::size_t N = transpose ? rows : groups * static_cast<std::size_t>(gs);
  const std::size_t wrows = transpose ? N : K, wcols = transpose ? K : N, nscales = wrows * groups;
  std::size_t pos = 0;
  const auto at = [&]() { return size ? data[pos++ % size] : std::uint8_t{0x5a}; };
  std::vector<XT> x(M * K);
  for (auto& v : x) v = small<XT>(at(), 1.0f / 32);
  const auto wq = fill<std::uint32_t>(data, size, pos, wrows * wcols * static_cast<std::size_t>(code_bits) / 32);
  lowbit::options opt;
  opt.bits = bits;
  opt.group_size = gs;
  if (split) opt.executor = reversed_tasks;
  std::vector<YT> y(M * N), y_scalar(M * N);
  if (m == lowbit::mode::affine) {
    std::vector<ST> scales(nscales), biases(nscales);
    for (auto& v : scales) v = small<ST>(at(), 1.0f / 1024);
    for (auto& v : biases) v = small<ST>(at(), 1.0f / 64);
    lowbit::quantized_matmul(x.data(), wq.data(), scales.data(), biases.data(), y.data(), M, N, K, transpose, opt);
    lowbit::scalar::quantized_matmul(x.data(), wq.data(), scales.data(), biases.data(), y_scalar.data(), M, N, K,
                                     transpose, bits, gs);
    const exact_weight w{[&](std::size_t r, std::size_t c, double& magnitude) {
      const std::size_t g = r * groups + c / static_cast<std::size_t>(gs);
      const double s = static_cast<float>(scales[g]), b = static_cast<float>(biases[g]);
      const double q = lowbit::format::code_at(wq.data(), r * wcols + c, bits);
      magnitude = std::fabs(s * q) + std::fabs(b);
      return s * q + b;
    }};
    check_product("quantized_matmul", x, y, w, M, N, K, transpose);
    check_product("scalar::quantized_matmul", x, y_scalar, w, M, N, K, transpose);
  } else {
    // E8M0 scales near 2^0 and nvfp4's E4M3 ones small and finite; the weights exact as dequantize gives them.
    std::vector<std::uint8_t> scales(nscales);
    for (auto& v : scales) v = m == lowbit::mode::nvfp4 ? at() % 0x60 : static_cast<std::uint8_t>(120 + at() % 12);
    const float global = 0.5f + static_cast<float>(at()) / 64;
    const float* global_scale = m == lowbit::mode::nvfp4 && (head[1] & 1) ? &global : nullptr;
    lowbit::quantized_matmul(m, x.data(), wq.data(), scales.data(), y.data(), M, N, K, transpose, global_scale, opt);
    std::vector<float> dense(wrows * wcols);
    lowbit::scalar::dequantize(m, wq.data(), scales.data(), dense.data(), wrows, wcols, global_scale);
    const exact_weight w{[&](std::size_t r, std::size_t c, double& magnitude) {
      magnitude = std::fabs(static_cast<double>(dense[r * wcols + c]));
      return static_cast<double>(dense[r * wcols + c]);
    }};
    check_product("quantized_matmul", x, y, w, M, N, K, transpose);
  }
}

template <class XT, class ST>
void with_matmul_output(int selector, const std::uint8_t* head, const std::uint8_t* data, std::size_t size) {
  switch (selector % 3) {
    case 0: return run_matmul<XT, ST, float>(head, data, size);
    case 1: return run_matmul<XT, ST, lowbit::half>(head, data, size);
    default: return run_matmul<XT, ST, lowbit::bfloat16>(head, data, size);
  }
}
template <class XT>
void with_matmul_scales(int selector, const std::uint8_t* head, const std::uint8_t* data, std::size_t size) {
  switch (selector / 3 % 3) {
    case 0: return with_matmul_output<XT, float>(selector, head, data, size);
    case 1: return with_matmul_output<XT, lowbit::half>(selector, head, data, size);
    default: return with_matmul_output<XT, lowbit::bfloat16>(selector, head, data, size);
  }
}
void matmul(const std::uint8_t* head, const std::uint8_t* data, std::size_t size) {
  const int types = head[2] % 27;
  switch (types / 9) {
    case 0: return with_matmul_scales<float>(types, head, data, size);
    case 1: return with_matmul_scales<lowbit::half>(types, head, data, size);
    default: return with_matmul_scales<lowbit::bfloat16>(types, head, data, size);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 6) return 0;
  if ((data[0] & 0xa0) == 0xa0) {  // quantized_matmul
    matmul(data, data + 6, size - 6);
    return 0;
  }
  if (data[0] & 0x80) {  // floating-point modes
    switch (data[2] % 3) {
      case 0: run_fp<float>(data, data + 6, size - 6); break;
      case 1: run_fp<lowbit::half>(data, data + 6, size - 6); break;
      default: run_fp<lowbit::bfloat16>(data, data + 6, size - 6); break;
    }
    return 0;
  }
  const int bits = static_cast<int>(data[0] % 12) - 1;  // -1 .. 10: a few invalid widths on purpose
  static const int group_sizes[] = {32, 64, 128};
  const int group_size = group_sizes[data[1] % 3];
  const int types = data[2] % 9;
  const std::size_t rows = 1 + data[3] % 16, groups = 1 + data[4] % 8, offset = data[5] % 4;
  data += 6, size -= 6;
  switch (types / 3) {
    case 0: with_output<float>(types, data, size, bits, group_size, rows, groups, offset); break;
    case 1: with_output<lowbit::half>(types, data, size, bits, group_size, rows, groups, offset); break;
    default: with_output<lowbit::bfloat16>(types, data, size, bits, group_size, rows, groups, offset); break;
  }
  return 0;
}

#ifndef LOWBIT_LIBFUZZER
// Replay: run every file given on the command line through the target.
int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  }
  std::printf("replayed %d inputs on backend %s\n", argc - 1, lowbit::backend_name());
  return 0;
}
#endif
