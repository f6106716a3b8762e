// The MLX golden data in tests/data/mlx-golden (written by MLX's CPU backend; see its README.md):
// the manifest, and loading a case's arrays.
#pragma once

#include <cctype>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "safetensors.hpp"

#ifndef LOWBIT_TEST_DATA_DIR
#error "LOWBIT_TEST_DATA_DIR must name the tests/data directory"
#endif

namespace lowbit_test {

inline std::string golden_dir() { return std::string(LOWBIT_TEST_DATA_DIR) + "/mlx-golden"; }

// One row of MANIFEST.tsv.
struct golden_case {
  std::string file, mode;
  int bits = 0, group_size = 0;
  std::string dtype, shape, wd_dtype, wd_f32_dtype, global_scale;

  std::string path() const { return golden_dir() + "/" + file; }
  bool has_global_scale() const { return global_scale == "yes"; }
};

// GoogleTest prints a parameter with this (instead of its bytes).
inline void PrintTo(const golden_case& c, std::ostream* os) { *os << c.file; }

inline std::vector<golden_case> golden_manifest() {
  std::ifstream in(golden_dir() + "/MANIFEST.tsv");
  std::vector<golden_case> cases;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    golden_case c;
    std::string seed;
    fields >> c.file >> c.mode >> c.bits >> c.group_size >> c.dtype >> c.shape >> seed >> c.wd_dtype >>
        c.wd_f32_dtype >> c.global_scale;
    cases.push_back(c);
  }
  return cases;
}

inline std::vector<golden_case> golden_cases(const std::string& mode) {
  std::vector<golden_case> out;
  for (const auto& c : golden_manifest()) {
    if (c.mode == mode) out.push_back(c);
  }
  return out;
}

// A test name from a file name: letters, digits and underscores only.
inline std::string golden_test_name(const golden_case& c) {
  std::string name = c.file.substr(0, c.file.find('.'));
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

}  // namespace lowbit_test
