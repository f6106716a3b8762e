// Must not compile: group size 48 is not an MLX group size (a static_assert names the allowed ones).
#include <lowbit/lowbit.hpp>

void call(const std::uint32_t* wq, const float* s, const float* b, float* out) {
  lowbit::dequantize<4, 48>(wq, s, b, out, 1, 48);
}
