// Must not compile: double is not a storage type lowbit reads or writes.
#include <lowbit/lowbit.hpp>

void call(const std::uint32_t* wq, const double* s, const double* b, float* out) {
  lowbit::dequantize(wq, s, b, out, 1, 64);
}
