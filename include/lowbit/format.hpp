// lowbit/format.hpp — the MLX affine packing, as facts in one place.
//
// A weight matrix of rows x cols elements is quantized in groups of group_size consecutive elements of
// a row; each group has one scale and one bias. The packed codes wq are rows x (cols * bits / 32)
// uint32 words. Each row is one LSB-first bit stream: element i of a row occupies stream bits
// [i*bits, i*bits + bits), and stream bit k is bit k % 32 of word k / 32. Words are little-endian, so
// the stream is LSB-first in bytes too. For bits 3, 5, 6 and 7, codes straddle word boundaries
// (source: MLX's quantize, mlx/backend/cpu/quantized.cpp, packs 8 codes per 3 bytes for 3 bits, 8 per
// 5 bytes for 5 bits and 4 per 3 bytes for 6 bits, which is exactly this stream).
//
// Because group_size is a multiple of 32, every group starts on a word boundary and a group of
// group_size codes fills exactly group_size * bits / 32 words; a row of cols elements ends on a word
// boundary too. The whole matrix is therefore a plain sequence of rows * cols / group_size groups.
#ifndef LOWBIT_FORMAT_HPP
#define LOWBIT_FORMAT_HPP

#include <cstddef>
#include <cstdint>

#include "config.hpp"

LOWBIT_BEGIN_NAMESPACE

/// MLX's defaults.
constexpr int default_bits = 4;
constexpr int default_group_size = 64;

namespace format {

/// Bit widths lowbit reads and writes: 1..8. MLX itself ships 2, 3, 4, 5, 6 and 8; 1 and 7 use the
/// same packing rule.
constexpr bool is_supported_bits(int bits) noexcept { return bits >= 1 && bits <= 8; }
/// Bit widths MLX itself supports (the golden data covers these).
constexpr bool is_mlx_bits(int bits) noexcept { return bits >= 2 && bits <= 8 && bits != 7; }
/// Group sizes MLX supports for the affine mode.
constexpr bool is_supported_group_size(int group_size) noexcept {
  return group_size == 32 || group_size == 64 || group_size == 128;
}

/// The largest code of a bits-wide value: 2^bits - 1.
constexpr std::uint32_t max_code(int bits) noexcept { return (1u << bits) - 1u; }
/// uint32 words holding one group's codes.
constexpr std::size_t words_per_group(int bits, int group_size) noexcept {
  return static_cast<std::size_t>(group_size) * static_cast<std::size_t>(bits) / 32;
}
/// uint32 words of one packed row of cols elements (cols a multiple of 32).
constexpr std::size_t words_per_row(std::size_t cols, int bits) noexcept {
  return cols / 32 * static_cast<std::size_t>(bits);
}

/// The code of element i of a packed stream starting at words[0]. Reads word (i*bits)/32 and, only when
/// the code straddles into it, the next word.
LOWBIT_ALWAYS_INLINE std::uint32_t code_at(const std::uint32_t* words, std::size_t i, int bits) noexcept {
  const std::size_t bit = i * static_cast<std::size_t>(bits);
  const std::size_t word = bit / 32;
  const unsigned offset = static_cast<unsigned>(bit % 32);
  std::uint64_t window = words[word];
  if (offset + static_cast<unsigned>(bits) > 32) window |= static_cast<std::uint64_t>(words[word + 1]) << 32;
  return static_cast<std::uint32_t>(window >> offset) & max_code(bits);
}

/// Writes code (< 2^bits) as element i of a packed stream; the stream's words must start at zero.
LOWBIT_ALWAYS_INLINE void put_code(std::uint32_t* words, std::size_t i, int bits, std::uint32_t code) noexcept {
  const std::size_t bit = i * static_cast<std::size_t>(bits);
  const std::size_t word = bit / 32;
  const unsigned offset = static_cast<unsigned>(bit % 32);
  words[word] |= code << offset;
  if (offset + static_cast<unsigned>(bits) > 32) words[word + 1] |= code >> (32 - offset);
}

}  // namespace format
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_FORMAT_HPP
