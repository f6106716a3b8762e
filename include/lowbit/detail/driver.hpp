// lowbit/detail/driver.hpp — from a public call to a kernel: validation, the one switch from runtime
// (bits, group_size) to compile-time parameters, and the walk over the matrix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../config.hpp"
#include "../error.hpp"
#include "../format.hpp"
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
template <class Kernels, int Bits, int GroupSize, class S, class O>
void dequantize_checked(const std::uint32_t* wq, const S* scales, const S* biases, O* out, std::size_t rows,
                        std::size_t cols) {
  check_shape_and_pointers("dequantize", rows, cols, GroupSize, widest<S, O>(),
                           {{"wq", wq}, {"scales", scales}, {"biases", biases}, {"out", out}});
  if (rows == 0 || cols == 0) return;
  Kernels::template dequantize<Bits, GroupSize>(wq, scales, biases, out, rows * (cols / GroupSize));
}

template <class Kernels, class S, class O>
void dequantize_runtime(const std::uint32_t* wq, const S* scales, const S* biases, O* out, std::size_t rows,
                        std::size_t cols, int bits, int group_size) {
  check_bits("dequantize", bits);
  check_group_size("dequantize", group_size);
  with_config(bits, group_size, [&](auto b, auto g) {
    dequantize_checked<Kernels, decltype(b)::value, decltype(g)::value>(wq, scales, biases, out, rows, cols);
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
