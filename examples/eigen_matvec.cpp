// lowbit with Eigen: quantize a weight matrix as MLX does, then dequantize it straight into an Eigen
// matrix through maps over the packed buffers (no copies) and multiply it by a vector.
//
//   eigen_matvec        prints the product's error against the original float16 weights
#include <lowbit/eigen.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

int main() {
  const Eigen::Index rows = 256, cols = 1024;
  const int bits = 4, group_size = 64;

  // A float16 weight matrix, and its MLX quantization into buffers (as a checkpoint would hold them).
  std::mt19937 engine(1);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  lowbit::eigen::matrix<Eigen::half> w(rows, cols);
  for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = Eigen::half(normal(engine));
  std::vector<std::uint32_t> wq_buffer(static_cast<std::size_t>(rows * cols / 32 * bits));
  std::vector<Eigen::half> scales_buffer(static_cast<std::size_t>(rows * cols / group_size));
  std::vector<Eigen::half> biases_buffer(scales_buffer.size());
  lowbit::quantize(w.data(), wq_buffer.data(), scales_buffer.data(), biases_buffer.data(),
                   static_cast<std::size_t>(rows), static_cast<std::size_t>(cols), bits, group_size);

  // Views over those buffers, dequantized into a float matrix, then y = W x.
  const auto wq = lowbit::eigen::map_packed(wq_buffer.data(), rows, cols, bits);
  const auto scales = lowbit::eigen::map_groups(scales_buffer.data(), rows, cols, group_size);
  const auto biases = lowbit::eigen::map_groups(biases_buffer.data(), rows, cols, group_size);
  lowbit::eigen::matrix<float> w_dequantized(rows, cols);
  lowbit::eigen::dequantize(wq, scales, biases, w_dequantized, bits, group_size);

  const Eigen::VectorXf x = Eigen::VectorXf::LinSpaced(cols, -1.0f, 1.0f);
  const Eigen::VectorXf y = w_dequantized * x;
  const Eigen::VectorXf y_original = w.cast<float>() * x;
  const float relative_error = (y - y_original).norm() / y_original.norm();
  std::printf("lowbit %s (backend %s) + Eigen %d.%d.%d: %ldx%ld float16 weight, %d-bit, group size %d\n",
              LOWBIT_VERSION_STRING, lowbit::backend_name(), EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION,
              EIGEN_MINOR_VERSION, static_cast<long>(rows), static_cast<long>(cols), bits, group_size);
  std::printf("y = W x: |y - y_original| / |y_original| = %.4f (4-bit quantization error)\n", relative_error);
  const bool ok = std::isfinite(relative_error) && relative_error < 0.2f;
  std::printf("%s\n", ok ? "ok: eigen_matvec" : "FAIL: the quantization error is too large");
  return ok ? 0 : 1;
}
