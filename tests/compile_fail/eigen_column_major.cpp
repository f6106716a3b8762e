// Must not compile: a column-major output would need a hidden copy; lowbit::eigen says so.
#include <lowbit/eigen.hpp>

int main() {
  const lowbit::eigen::matrix<std::uint32_t> wq(1, 8);
  const lowbit::eigen::matrix<float> scales(1, 1), biases(1, 1);
  Eigen::MatrixXf out(1, 64);  // column-major
  lowbit::eigen::dequantize(wq, scales, biases, out, 4, 64);
}
