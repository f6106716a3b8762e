// Must not compile: 9 bits is not a lowbit configuration (a static_assert names the allowed range).
#include <lowbit/lowbit.hpp>

void call(const std::uint32_t* wq, const float* s, const float* b, float* out) {
  lowbit::dequantize<9, 64>(wq, s, b, out, 1, 64);
}
