// lowbit/detail/driver.hpp — from a public call to a kernel: validation, the one switch from runtime
// (bits, group_size) to compile-time parameters, and the walk over the matrix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../config.hpp"
#include "../error.hpp"
#include "../format.hpp"
#include "../parallel.hpp"
#include "../types.hpp"
#include "scalar.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

template <int V>
using int_constant = std::integral_constant<int, V>;

template <int GroupSize, class F>
void with_bits(int bits, F&& f) {
  switch (bits) {
    case 1: return f(int_constant<1>{}, int_constant<GroupSize>{});
    case 2: return f(int_constant<2>{}, int_constant<GroupSize>{});
    case 3: return f(int_constant<3>{}, int_constant<GroupSize>{});
    case 4: return f(int_constant<4>{}, int_constant<GroupSize>{});
    case 5: return f(int_constant<5>{}, int_constant<GroupSize>{});
    case 6: return f(int_constant<6>{}, int_constant<GroupSize>{});
    case 7: return f(int_constant<7>{}, int_constant<GroupSize>{});
    default: return f(int_constant<8>{}, int_constant<GroupSize>{});
  }
}

// Calls f(int_constant<bits>, int_constant<group_size>) for validated runtime values.
template <class F>
void with_config(int bits, int group_size, F&& f) {
  switch (group_size) {
    case 32: return with_bits<32>(bits, f);
    case 64: return with_bits<64>(bits, f);
    default: return with_bits<128>(bits, f);
  }
}

// Reinterprets a user's array as the lowbit storage type it shares a layout with (types.hpp).
template <class T>
LOWBIT_ALWAYS_INLINE const storage_t<T>* as_storage(const T* p) noexcept {
  return reinterpret_cast<const storage_t<T>*>(p);
}
template <class T>
LOWBIT_ALWAYS_INLINE storage_t<T>* as_storage(T* p) noexcept {
  return reinterpret_cast<storage_t<T>*>(p);
}

template <class S, class O>
constexpr std::size_t widest() noexcept {
  return sizeof(S) > sizeof(O) ? sizeof(S) : sizeof(O);
}

// ---- dequantize -----------------------------------------------------------------------------------
// Groups [g, g + n) of a matrix of `total` groups, into out. Kernels may read Kernels::overread bytes past
// the codes they are given, which for small groups reaches past several groups: the last `tail` groups of
// the matrix are therefore read from a zero-padded copy of their codes.
// Stream: the kernel's non-temporal variant (Kernels::streams_directly), for a 64-byte aligned out.
template <class Kernels, int Bits, int GroupSize, bool Stream, class S, class O>
void call_kernel(const std::uint32_t* wq, const S* scales, const S* biases, O* out, std::size_t groups) {
  if constexpr (Stream) {
    Kernels::template dequantize_streaming<Bits, GroupSize>(wq, scales, biases, out, groups);
  } else {
    Kernels::template dequantize<Bits, GroupSize>(wq, scales, biases, out, groups);
  }
}

template <class Kernels, int Bits, int GroupSize, bool Stream = false, class S, class O>
void run_kernel(const std::uint32_t* wq, const S* scales, const S* biases, O* out, std::size_t g, std::size_t n,
                std::size_t total) {
  constexpr std::size_t words = format::words_per_group(Bits, GroupSize);
  constexpr std::size_t tail = (Kernels::overread + 4 * words - 1) / (4 * words);  // groups reading past the end
  const std::size_t safe_end = total > tail ? total - tail : 0;  // groups before this read only codes
  const std::size_t direct = g + n <= safe_end ? n : (g < safe_end ? safe_end - g : 0);
  if (direct != 0) call_kernel<Kernels, Bits, GroupSize, Stream>(wq + g * words, scales + g, biases + g, out, direct);
  if constexpr (tail != 0) {
    if (direct == n) return;
    const std::size_t rest = n - direct;  // at most `tail` groups, ending the matrix
    alignas(64) std::uint32_t padded[tail * words + (Kernels::overread + 3) / 4] = {};
    std::memcpy(padded, wq + (g + direct) * words, rest * words * 4);
    call_kernel<Kernels, Bits, GroupSize, Stream>(padded, scales + g + direct, biases + g + direct,
                                                  out + direct * GroupSize, rest);
  }
}

// With non-temporal stores, through a small buffer. A non-temporal line written in parts costs a read of
// the line, and the output may have any alignment: so the kernels (which always store normally) compute
// each block of groups into a buffer in L1, and whole aligned 64-byte lines are copied out with
// non-temporal stores (Kernels::stream_lines). The ends of the range, where a line is only partly ours, are
// written with memcpy; the piece of a line left at the end of a block is carried into the next one, so no
// line is ever streamed in parts. Blocks are small (1 KiB), so the stores drain while the next block is
// computed (8 KiB blocks measured half as fast).
//
// A kernel that can store non-temporally itself (Kernels::streams_directly) does so when out is 64-byte
// aligned, since each group's output is then whole lines: no buffer, no copy, and the stores drain while
// the kernel computes (AVX-512 on Zen 4, 4-bit, group 64, 11008x4096, three alternating runs: float
// 0.87-0.89 -> 0.93-0.94 of the non-temporal roofline, half 0.74-0.80 -> 0.89-0.91).
template <class Kernels, int Bits, int GroupSize, class S, class O>
void run_streaming(const std::uint32_t* wq, const S* scales, const S* biases, O* out, std::size_t first,
                   std::size_t last, std::size_t total) {
  if constexpr (Kernels::streams_directly) {
    static_assert(GroupSize * sizeof(O) % 64 == 0, "a group's output is whole lines");
    if (reinterpret_cast<std::uintptr_t>(out) % 64 == 0) {
      run_kernel<Kernels, Bits, GroupSize, true>(wq, scales, biases, out + first * GroupSize, first, last - first,
                                                 total);
      Kernels::stream_fence();
      return;
    }
  }
  constexpr std::size_t line = 64 / sizeof(O);  // elements per cache line
  constexpr std::size_t block = 1024 / (GroupSize * sizeof(O)) > 0 ? 1024 / (GroupSize * sizeof(O)) : 1;
  alignas(64) O buffer[block * GroupSize + 2 * line];
  O* dst = out + first * GroupSize;  // where base[0] belongs
  O* base = buffer;                  // base + carry is 64-byte aligned: the kernels' stores are aligned
  std::size_t carry = 0;             // elements at base[0, carry) not yet written
  for (std::size_t g = first; g < last;) {
    const std::size_t n = last - g < block ? last - g : block;
    run_kernel<Kernels, Bits, GroupSize>(wq, scales, biases, base + carry, g, n, total);
    const std::size_t have = carry + n * GroupSize;
    std::size_t head = (64 - reinterpret_cast<std::uintptr_t>(dst) % 64) % 64 / sizeof(O);
    if (head > have) head = have;
    if (head != 0) std::memcpy(dst, base, head * sizeof(O));  // the first block only
    const std::size_t lines = (have - head) / line;
    Kernels::stream_lines(dst + head, base + head, lines * line * sizeof(O));
    const std::size_t done = head + lines * line;
    const std::size_t left = have - done;  // less than a line
    O* next = buffer + (line - left) % line;  // next + left is aligned again
    O piece[line];
    std::memcpy(piece, base + done, sizeof piece);  // a whole line's worth: the buffer has room
    std::memcpy(next, piece, sizeof piece);
    base = next, carry = left, dst += done, g += n;
  }
  std::memcpy(dst, base, carry * sizeof(O));
  Kernels::stream_fence();
}

// A validated shape: the whole matrix, on the threads or executor the options name.
template <class Kernels, int Bits, int GroupSize, class S, class O>
void dequantize_matrix(const std::uint32_t* wq, const S* scales, const S* biases, O* out, std::size_t rows,
                       std::size_t cols, const options& opt) {
  const std::size_t elements = rows * cols, groups = elements / GroupSize;
  const bool streaming =
      Kernels::has_streaming_stores &&
      (opt.stores == store_policy::streaming ||
       (opt.stores == store_policy::automatic && elements * sizeof(O) >= LOWBIT_STREAMING_THRESHOLD));
  // Tasks of about 64 KiB of output each (whole groups), so that an executor can balance them.
  const std::size_t per_task = (std::size_t{65536} / (GroupSize * sizeof(O))) + 1;
  const std::size_t tasks = (groups + per_task - 1) / per_task;
  const auto task = [&](std::size_t begin, std::size_t end) {
    const std::size_t last = end * per_task < groups ? end * per_task : groups;
    const std::size_t first = begin * per_task;
    if (first >= last) return;
    if (streaming) {
      run_streaming<Kernels, Bits, GroupSize>(wq, scales, biases, out, first, last, groups);
    } else {
      run_kernel<Kernels, Bits, GroupSize>(wq, scales, biases, out + first * GroupSize, first, last - first, groups);
    }
  };
  if (opt.executor) {
    opt.executor(tasks, task);
  } else {
    run_on_threads(thread_count(opt.threads, elements), tasks, task);
  }
}

template <class Kernels, int Bits, int GroupSize, class S, class O>
void dequantize_checked(const std::uint32_t* wq, const S* scales, const S* biases, O* out, std::size_t rows,
                        std::size_t cols, const options& opt = options()) {
  check_shape_and_pointers("dequantize", rows, cols, GroupSize, widest<S, O>(),
                           {{"wq", wq}, {"scales", scales}, {"biases", biases}, {"out", out}});
  if (rows == 0 || cols == 0) return;
  dequantize_matrix<Kernels, Bits, GroupSize>(wq, scales, biases, out, rows, cols, opt);
}

template <class Kernels, class S, class O>
void dequantize_runtime(const std::uint32_t* wq, const S* scales, const S* biases, O* out, std::size_t rows,
                        std::size_t cols, const options& opt) {
  check_bits("dequantize", opt.bits);
  check_group_size("dequantize", opt.group_size);
  with_config(opt.bits, opt.group_size, [&](auto b, auto g) {
    dequantize_checked<Kernels, decltype(b)::value, decltype(g)::value>(wq, scales, biases, out, rows, cols, opt);
  });
}

// ---- quantize -------------------------------------------------------------------------------------
template <class T>
void quantize_runtime(const T* w, std::uint32_t* wq, T* scales, T* biases, std::size_t rows, std::size_t cols,
                      int bits, int group_size) {
  check_bits("quantize", bits);
  check_group_size("quantize", group_size);
  check_shape_and_pointers("quantize", rows, cols, group_size, sizeof(T),
                           {{"w", w}, {"wq", wq}, {"scales", scales}, {"biases", biases}});
  if (rows == 0 || cols == 0) return;
  with_config(bits, group_size, [&](auto b, auto g) {
    quantize_groups<decltype(b)::value, decltype(g)::value>(w, wq, scales, biases,
                                                            rows * (cols / decltype(g)::value));
  });
}

}  // namespace detail
LOWBIT_END_NAMESPACE
