// Every bad input of the public API raises lowbit::error with a message naming the value and what is allowed,
// and leaves every output untouched.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace {

constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();

// Runs f, expects lowbit::error whose message contains every piece of `expected`.
void expect_error(const std::function<void()>& f, const std::vector<std::string>& expected) {
  try {
    f();
    ADD_FAILURE() << "no lowbit::error thrown; expected a message with '" << expected.front() << "'";
  } catch (const lowbit::error& e) {
    const std::string what = e.what();
    for (const auto& piece : expected) EXPECT_NE(what.find(piece), std::string::npos) << "message: " << what;
    const std::invalid_argument& base = e;  // lowbit::error is a std::invalid_argument
    EXPECT_EQ(std::string(base.what()), what);
  }
}

// Inputs for a 2 x 128 matrix, outputs filled with a sentinel that must survive every failed call.
struct buffers {
  std::vector<std::uint32_t> wq = std::vector<std::uint32_t>(2 * 128, 0x12345678u);
  std::vector<float> scales = std::vector<float>(8, 1.0f), biases = std::vector<float>(8, 0.0f);
  std::vector<float> out = std::vector<float>(2 * 128, 7.0f);
  std::vector<float> w = std::vector<float>(2 * 128, 0.5f);
  void expect_untouched() const {
    for (float v : out) ASSERT_EQ(v, 7.0f) << "out was written before the error";
  }
};

TEST(Errors, UnsupportedBits) {
  for (int bits : {0, -1, 9, 16, 32, std::numeric_limits<int>::min()}) {
    buffers b;
    expect_error([&] { lowbit::dequantize(b.wq.data(), b.scales.data(), b.biases.data(), b.out.data(), 2, 128, bits, 64); },
                 {"[lowbit::dequantize]", "bits " + std::to_string(bits) + " is not supported",
                  "supported: 1, 2, 3, 4, 5, 6, 7, 8"});
    b.expect_untouched();
  }
}

TEST(Errors, UnsupportedGroupSize) {
  for (int group_size : {0, -64, 16, 48, 96, 256, 1}) {
    buffers b;
    expect_error(
        [&] { lowbit::dequantize(b.wq.data(), b.scales.data(), b.biases.data(), b.out.data(), 2, 128, 4, group_size); },
        {"[lowbit::dequantize]", "group_size " + std::to_string(group_size) + " is not supported",
         "supported: 32, 64, 128"});
    b.expect_untouched();
  }
}

TEST(Errors, ColsNotAMultipleOfGroupSize) {
  buffers b;
  expect_error([&] { lowbit::dequantize(b.wq.data(), b.scales.data(), b.biases.data(), b.out.data(), 2, 96, 4, 64); },
               {"cols 96 is not a multiple of group_size 64"});
  expect_error([&] { lowbit::dequantize<4, 128>(b.wq.data(), b.scales.data(), b.biases.data(), b.out.data(), 1, 64); },
               {"cols 64 is not a multiple of group_size 128"});
  expect_error([&] { lowbit::dequantize(b.wq.data(), b.scales.data(), b.biases.data(), b.out.data(), 0, 100); },
               {"cols 100 is not a multiple of group_size 64"});  // even with no rows: the shape is wrong
  b.expect_untouched();
}

TEST(Errors, SizeOverflow) {
  buffers b;
  expect_error([&] { lowbit::dequantize(b.wq.data(), b.scales.data(), b.biases.data(), b.out.data(), kMax / 64 + 1, 128); },
               {"overflows size_t"});
  expect_error([&] { lowbit::dequantize(b.wq.data(), b.scales.data(), b.biases.data(), b.out.data(), kMax, 64); },
               {"rows " + std::to_string(kMax) + " x cols 64 overflows size_t"});
  // rows * cols fits, but not rows * cols * sizeof(float) bytes.
  expect_error([&] { lowbit::dequantize(b.wq.data(), b.scales.data(), b.biases.data(), b.out.data(), kMax / 256, 128); },
               {"overflow size_t"});
  b.expect_untouched();
}

TEST(Errors, NullPointers) {
  buffers b;
  expect_error([&] { lowbit::dequantize<float, float>(nullptr, b.scales.data(), b.biases.data(), b.out.data(), 2, 128); },
               {"wq is null", "2 x 128"});
  expect_error([&] { lowbit::dequantize<float, float>(b.wq.data(), nullptr, b.biases.data(), b.out.data(), 2, 128); },
               {"scales is null"});
  expect_error([&] { lowbit::dequantize<float, float>(b.wq.data(), b.scales.data(), nullptr, b.out.data(), 2, 128); },
               {"biases is null"});
  expect_error([&] { lowbit::dequantize<4, 64, float, float>(b.wq.data(), b.scales.data(), b.biases.data(), nullptr, 2, 128); },
               {"out is null"});
  b.expect_untouched();
}

TEST(Errors, QuantizeChecksEverythingBeforeWriting) {
  buffers b;
  const std::vector<std::uint32_t> wq_before = b.wq;
  const std::vector<float> scales_before = b.scales;
  auto call = [&](const float* w, std::uint32_t* wq, std::size_t rows, std::size_t cols, int bits, int group_size) {
    return [=, &b] { lowbit::quantize(w, wq, b.scales.data(), b.biases.data(), rows, cols, bits, group_size); };
  };
  expect_error(call(b.w.data(), b.wq.data(), 2, 128, 10, 64), {"[lowbit::quantize]", "bits 10 is not supported"});
  expect_error(call(b.w.data(), b.wq.data(), 2, 128, 4, 100), {"[lowbit::quantize]", "group_size 100"});
  expect_error(call(b.w.data(), b.wq.data(), 2, 130, 4, 64), {"cols 130 is not a multiple of group_size 64"});
  expect_error(call(nullptr, b.wq.data(), 2, 128, 4, 64), {"w is null"});
  expect_error(call(b.w.data(), nullptr, 2, 128, 4, 64), {"wq is null"});
  expect_error(call(b.w.data(), b.wq.data(), kMax, 128, 4, 64), {"overflows size_t"});
  EXPECT_EQ(b.wq, wq_before);
  EXPECT_EQ(b.scales, scales_before);
}

TEST(Errors, ScalarReferenceChecksTheSame) {
  buffers b;
  expect_error(
      [&] { lowbit::scalar::dequantize(b.wq.data(), b.scales.data(), b.biases.data(), b.out.data(), 2, 128, 7, 48); },
      {"group_size 48 is not supported"});
  b.expect_untouched();
}

}  // namespace
