// Must not compile: the compile-time fp overload takes mxfp4, nvfp4 or mxfp8; affine has its own overload.
#include <lowbit/lowbit.hpp>

void call(const std::uint32_t* wq, const std::uint8_t* s, float* out) {
  lowbit::dequantize<lowbit::mode::affine>(wq, s, out, 1, 64);
}
