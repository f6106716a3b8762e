// lowbit demo: the main job, on data MLX wrote. Dequantizes an MLX-quantized tensor, checks it bit for
// bit against MLX's own dequantize, reports the error against the original weights, and measures
// throughput on a large matrix built from the same tensor.
//
//   lowbit_demo [--file PATH] [--rows N] [--repeat N] [--all]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <lowbit/lowbit.hpp>

#include "safetensors.hpp"

#ifndef LOWBIT_DEMO_DATA_DIR
#define LOWBIT_DEMO_DATA_DIR "tests/data/mlx-golden"
#endif

namespace {

struct options {
  std::string file = std::string(LOWBIT_DEMO_DATA_DIR) + "/affine_b4_gs64_float16.safetensors";
  std::size_t rows = 4096;  // rows of the throughput matrix
  int repeat = 20;
  bool all = false;
};

void usage() {
  std::printf(
      "lowbit demo: dequantize MLX-quantized weights, check them against MLX, measure throughput.\n"
      "\n"
      "usage: lowbit_demo [--file PATH] [--rows N] [--repeat N] [--all]\n"
      "  --file PATH   an MLX golden file (safetensors with wq, scales, biases, wd, w and bits/group_size\n"
      "                metadata); default: %s/affine_b4_gs64_float16.safetensors\n"
      "  --rows N      rows of the throughput matrix (the file's tensor tiled to N rows, 4096 columns\n"
      "                when it has 512); default 4096\n"
      "  --repeat N    timed repetitions, the best is reported; default 20\n"
      "  --all         check every affine file in the golden directory, not only --file\n"
      "  --help        this text\n",
      LOWBIT_DEMO_DATA_DIR);
}

template <class T>
std::uint32_t bits_of(T v) {
  if constexpr (std::is_same<T, float>::value) {
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    return u;
  } else {
    return v.to_bits();
  }
}

const char* dtype_name(const std::string& dtype) {
  return dtype == "F32" ? "float32" : dtype == "F16" ? "float16" : dtype == "BF16" ? "bfloat16" : "?";
}

struct check_result {
  std::size_t elements = 0, identical = 0;
};

// Dequantizes the file's tensor with scale type S and compares with MLX's wd; prints what it found.
template <class S>
check_result check_file(const lowbit_tools::file& f, int bits, int group_size, bool verbose) {
  const auto& wd_t = f.at("wd");
  const std::size_t rows = wd_t.rows(), cols = wd_t.cols();
  const auto wq = f.at("wq").copy_as<std::uint32_t>();
  const auto scales = f.at("scales").copy_as<S>();
  const auto biases = f.at("biases").copy_as<S>();
  const auto wd = wd_t.copy_as<S>();
  std::vector<S> out(rows * cols);
  lowbit::dequantize(wq.data(), scales.data(), biases.data(), out.data(), rows, cols, bits, group_size);

  check_result r;
  r.elements = out.size();
  for (std::size_t i = 0; i < out.size(); ++i) r.identical += bits_of(out[i]) == bits_of(wd[i]);
  if (!verbose) return r;

  std::printf("  dequantize vs MLX's own result: %zu of %zu elements bit-identical%s\n", r.identical, r.elements,
              r.identical == r.elements ? "" : "  <-- MISMATCH");
  if (f.contains("w")) {
    const auto w = f.at("w").copy_as<S>();
    double max_err = 0, sum_steps = 0;
    std::size_t worst = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      const double err = std::fabs(static_cast<double>(static_cast<float>(out[i])) - static_cast<float>(w[i]));
      if (err > max_err) max_err = err, worst = i;
      const double step = std::fabs(static_cast<double>(static_cast<float>(scales[i / group_size])));
      if (step > 0) sum_steps += err / step;
    }
    const double worst_step = std::fabs(static_cast<double>(static_cast<float>(scales[worst / group_size])));
    std::printf("  error vs the original weights: max |w - dequantized| = %.6g (row %zu, where w = %.6g: %.2f of\n"
                "    that group's quantization steps); mean error %.3f steps\n",
                max_err, worst / cols, static_cast<double>(static_cast<float>(w[worst])), max_err / worst_step,
                sum_steps / static_cast<double>(out.size()));
  }
  return r;
}

template <class S>
void measure(const lowbit_tools::file& f, int bits, int group_size, const options& opt) {
  const auto& wd_t = f.at("wd");
  const std::size_t src_rows = wd_t.rows(), src_cols = wd_t.cols();
  const auto wq = f.at("wq").copy_as<std::uint32_t>();
  const auto scales = f.at("scales").copy_as<S>();
  const auto biases = f.at("biases").copy_as<S>();
  // Tile the tensor: columns repeated to 4096 (whole groups), rows repeated to opt.rows.
  const std::size_t reps = std::max<std::size_t>(1, 4096 / src_cols);
  const std::size_t cols = src_cols * reps, rows = opt.rows;
  const std::size_t wpr = lowbit::format::words_per_row(src_cols, bits), gpr = src_cols / group_size;
  std::vector<std::uint32_t> big_wq(rows * wpr * reps);
  std::vector<S> big_s(rows * gpr * reps), big_b(rows * gpr * reps);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t k = 0; k < reps; ++k) {
      const std::size_t src = r % src_rows;
      std::copy_n(wq.begin() + src * wpr, wpr, big_wq.begin() + (r * reps + k) * wpr);
      std::copy_n(scales.begin() + src * gpr, gpr, big_s.begin() + (r * reps + k) * gpr);
      std::copy_n(biases.begin() + src * gpr, gpr, big_b.begin() + (r * reps + k) * gpr);
    }
  }
  std::vector<S> out(rows * cols);
  double best = 1e30;
  for (int i = 0; i < opt.repeat + 1; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    lowbit::dequantize(big_wq.data(), big_s.data(), big_b.data(), out.data(), rows, cols, bits, group_size);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i > 0) best = std::min(best, s);  // the first call warms up page tables and caches
  }
  const double elements = static_cast<double>(rows * cols);
  std::printf("throughput: %zu x %zu, %s -> %s, one thread: %.2f GB/s of output (%.2f G elements/s), best of %d\n",
              rows, cols, dtype_name(f.at("scales").dtype), dtype_name(f.at("scales").dtype),
              elements * sizeof(S) / best * 1e-9, elements / best * 1e-9, opt.repeat);
}

template <class F>
void with_scale_type(const std::string& dtype, F&& f) {
  if (dtype == "F32") {
    f(float{});
  } else if (dtype == "F16") {
    f(lowbit::half{});
  } else if (dtype == "BF16") {
    f(lowbit::bfloat16{});
  } else {
    throw lowbit_tools::format_error("scales have dtype " + dtype + "; expected F32, F16 or BF16");
  }
}

int config_from_metadata(const lowbit_tools::file& f, const char* key) {
  const auto it = f.metadata().find(key);
  if (it == f.metadata().end()) throw lowbit_tools::format_error(f.path() + ": no '" + key + "' in __metadata__");
  return std::atoi(it->second.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "lowbit_demo: %s needs a value (see --help)\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else if (a == "--file") {
      opt.file = value();
    } else if (a == "--rows") {
      opt.rows = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a == "--repeat") {
      opt.repeat = std::max(1, std::atoi(value().c_str()));
    } else if (a == "--all") {
      opt.all = true;
    } else {
      std::fprintf(stderr, "lowbit_demo: unknown option %s (see --help)\n", a.c_str());
      return 2;
    }
  }

  try {
    std::printf("lowbit %s demo, backend: %s\n", LOWBIT_VERSION_STRING, lowbit::backend_name());
    const auto f = lowbit_tools::file::open(opt.file);
    const int bits = config_from_metadata(f, "bits"), group_size = config_from_metadata(f, "group_size");
    const auto& wd = f.at("wd");
    std::printf("MLX file: %s\n  bits %d, group_size %d, %s scales and biases, %llu x %llu, written by MLX %s\n",
                opt.file.c_str(), bits, group_size, dtype_name(f.at("scales").dtype),
                static_cast<unsigned long long>(wd.rows()), static_cast<unsigned long long>(wd.cols()),
                f.metadata().count("mlx_commit") ? f.metadata().at("mlx_commit").substr(0, 12).c_str() : "?");
    bool exact = true;
    with_scale_type(f.at("scales").dtype, [&](auto tag) {
      const auto r = check_file<decltype(tag)>(f, bits, group_size, true);
      exact = r.identical == r.elements;
      measure<decltype(tag)>(f, bits, group_size, opt);
    });

    if (opt.all) {
      std::size_t files = 0, elements = 0, identical = 0;
      const std::string dir = opt.file.substr(0, opt.file.find_last_of('/'));
      for (int b : {2, 3, 4, 5, 6, 8}) {
        for (int g : {32, 64, 128}) {
          for (const char* dt : {"float32", "float16", "bfloat16"}) {
            const auto path = dir + "/affine_b" + std::to_string(b) + "_gs" + std::to_string(g) + "_" + dt +
                              ".safetensors";
            const auto fi = lowbit_tools::file::open(path);
            with_scale_type(fi.at("scales").dtype, [&](auto tag) {
              const auto r = check_file<decltype(tag)>(fi, b, g, false);
              ++files, elements += r.elements, identical += r.identical;
            });
          }
        }
      }
      std::printf("all affine golden files: %zu files, %zu of %zu elements bit-identical to MLX\n", files, identical,
                  elements);
      exact = exact && identical == elements;
    }
    std::printf("%s\n", exact ? "OK: bit-identical to MLX" : "FAILED: differs from MLX");
    return exact ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lowbit_demo: %s\n", e.what());
    return 1;
  }
}
