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
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 6) return 0;
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
