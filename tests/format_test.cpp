// The packing rule (format.hpp), checked on hand-built streams: each code placed bit by bit, and literal
// words for codes that straddle two words. Dequantized with scale 1 and bias 0, an element must come back
// as its code.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "test_util.hpp"

namespace {

// Packs codes one stream bit at a time, exactly as the format states: element i occupies stream bits
// [i*bits, i*bits + bits), stream bit k is bit k % 32 of word k / 32.
std::vector<std::uint32_t> pack_by_hand(const std::vector<std::uint32_t>& codes, int bits) {
  std::vector<std::uint32_t> words(codes.size() * bits / 32, 0u);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    for (int j = 0; j < bits; ++j) {
      const std::size_t k = i * bits + j;
      if ((codes[i] >> j) & 1u) words[k / 32] |= 1u << (k % 32);
    }
  }
  return words;
}

// Dequantizes with scale 1 and bias 0 (float), so each output is its code.
std::vector<float> decode(const std::vector<std::uint32_t>& words, int bits, int group_size, std::size_t cols) {
  const std::size_t groups = cols / group_size;
  std::vector<float> ones(groups, 1.0f), zeros(groups, 0.0f), out(cols);
  lowbit::dequantize(words.data(), ones.data(), zeros.data(), out.data(), 1, cols, bits, group_size);
  return out;
}

class Packing : public ::testing::TestWithParam<int> {};

TEST_P(Packing, EveryCodeAtEveryPosition) {
  const int bits = GetParam();
  const std::uint32_t max = lowbit::format::max_code(bits);
  for (int group_size : {32, 64, 128}) {
    // Three groups; code i mod (max + 1), then shifted patterns, so every code lands on many offsets.
    for (std::uint32_t shift = 0; shift < 3; ++shift) {
      const std::size_t cols = 3 * static_cast<std::size_t>(group_size);
      std::vector<std::uint32_t> codes(cols);
      for (std::size_t i = 0; i < cols; ++i) codes[i] = static_cast<std::uint32_t>(i * (2 * shift + 1) + shift) & max;
      const auto out = decode(pack_by_hand(codes, bits), bits, group_size, cols);
      for (std::size_t i = 0; i < cols; ++i) {
        ASSERT_EQ(out[i], static_cast<float>(codes[i])) << "bits " << bits << ", group_size " << group_size
                                                        << ", element " << i;
      }
    }
  }
}

TEST_P(Packing, QuantizeWritesTheSameStream) {
  // A group whose values are exactly 0, 1, ..., n_bins (scale 1, bias 0 after MLX's rule) repeated:
  // quantize must pack those codes exactly where pack_by_hand puts them.
  const int bits = GetParam();
  const std::uint32_t max = lowbit::format::max_code(bits);
  const int group_size = 128;
  std::vector<std::uint32_t> codes(group_size);
  std::vector<float> w(group_size);
  for (int i = 0; i < group_size; ++i) {
    codes[i] = static_cast<std::uint32_t>(i * 7 + 3) & max;
    w[i] = static_cast<float>(codes[i]);
  }
  w[0] = 0.0f, codes[0] = 0;  // the group spans [0, max] so that scale = 1 and bias = 0 ...
  w[1] = static_cast<float>(max), codes[1] = max;
  std::vector<std::uint32_t> wq(group_size * bits / 32);
  float scale = 0, bias = 0;
  lowbit::quantize(w.data(), wq.data(), &scale, &bias, 1, group_size, bits, group_size);
  // ... negated: MLX anchors the edge of larger magnitude (here max) with a negative scale.
  ASSERT_EQ(scale, -1.0f);
  ASSERT_EQ(bias, static_cast<float>(max));
  for (int i = 0; i < group_size; ++i) codes[i] = max - codes[i];  // q = (w - max) / -1
  EXPECT_EQ(wq, pack_by_hand(codes, bits)) << "bits " << bits;
}

INSTANTIATE_TEST_SUITE_P(Bits, Packing, ::testing::Range(1, 9), [](const auto& info) {
  return "bits" + std::to_string(info.param);
});

// Literal words for codes that straddle a word boundary (one group of 32 elements).
struct straddle_case {
  int bits;
  std::size_t element;  // the element whose bits cross from word 0 into word 1
  std::uint32_t code;
  std::uint32_t word0, word1;
};

TEST(Packing, LiteralStraddlingCodes) {
  const straddle_case cases[] = {
      {3, 10, 0b101, 0x40000000u, 0x1u},      // bits 30..32: 1 | 0, 1
      {5, 6, 0b10110, 0x80000000u, 0x5u},     // bits 30..34: 0, 1 | 1, 0, 1
      {6, 5, 0b111001, 0x40000000u, 0xeu},    // bits 30..35: 1, 0 | 0, 1, 1, 1
      {7, 4, 0b1010011, 0x30000000u, 0x5u},   // bits 28..34: 1, 1, 0, 0 | 1, 0, 1
  };
  for (const auto& c : cases) {
    std::vector<std::uint32_t> words(static_cast<std::size_t>(c.bits), 0u);  // 32 elements
    words[0] = c.word0;
    words[1] = c.word1;
    const auto out = decode(words, c.bits, 32, 32);
    for (std::size_t i = 0; i < 32; ++i) {
      EXPECT_EQ(out[i], i == c.element ? static_cast<float>(c.code) : 0.0f)
          << "bits " << c.bits << ", element " << i;
    }
    EXPECT_EQ(lowbit::format::code_at(words.data(), c.element, c.bits), c.code);
  }
}

TEST(Packing, LiteralWholeWordCodes) {
  // 4 bits: element i is nibble i of word 0, lowest first; 8 bits: byte i; 2 bits: pair i; 1 bit: bit i.
  const std::vector<std::uint32_t> words4 = {0x76543210u, 0xfedcba98u, 0, 0};
  const auto out4 = decode(words4, 4, 32, 32);
  for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(out4[i], static_cast<float>(i));
  const std::vector<std::uint32_t> words8 = {0x03020100u, 0x07060504u, 0, 0, 0, 0, 0, 0};
  const auto out8 = decode(words8, 8, 32, 32);
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(out8[i], static_cast<float>(i));
  const std::vector<std::uint32_t> words2 = {0xe4u, 0};  // 0b11100100: 0, 1, 2, 3
  const auto out2 = decode(words2, 2, 32, 32);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(out2[i], static_cast<float>(i));
  const std::vector<std::uint32_t> words1 = {0x80000001u};
  const auto out1 = decode(words1, 1, 32, 32);
  EXPECT_EQ(out1[0], 1.0f);
  EXPECT_EQ(out1[1], 0.0f);
  EXPECT_EQ(out1[31], 1.0f);
}

TEST(Format, Facts) {
  using namespace lowbit::format;
  EXPECT_EQ(words_per_group(4, 64), 8u);
  EXPECT_EQ(words_per_group(3, 32), 3u);
  EXPECT_EQ(words_per_row(512, 6), 96u);
  EXPECT_EQ(max_code(8), 255u);
  for (int b = -1; b <= 9; ++b) EXPECT_EQ(is_supported_bits(b), b >= 1 && b <= 8) << b;
  EXPECT_FALSE(is_mlx_bits(1));
  EXPECT_FALSE(is_mlx_bits(7));
  EXPECT_TRUE(is_mlx_bits(6));
  for (int g : {0, 16, 31, 48, 96, 256, -64}) EXPECT_FALSE(is_supported_group_size(g)) << g;
}

}  // namespace
