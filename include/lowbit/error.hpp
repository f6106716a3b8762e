// lowbit/error.hpp — lowbit::error and the one place that checks arguments.
//
// Every public entry point validates all of its arguments before it touches an output, so when a
// lowbit::error is thrown no output byte has been written. Messages name the function, the bad value
// and what is allowed, e.g.
//   [lowbit::dequantize] bits 9 is not supported; supported: 1, 2, 3, 4, 5, 6, 7, 8
#ifndef LOWBIT_ERROR_HPP
#define LOWBIT_ERROR_HPP

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "config.hpp"
#include "format.hpp"
#include "mode.hpp"

namespace lowbit {

/// Thrown for any invalid argument of a lowbit function. Derives from std::invalid_argument.
class error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace lowbit

LOWBIT_BEGIN_NAMESPACE
namespace detail {

// A pointer argument and its name in the public signature.
using named_pointer = std::pair<const char*, const void*>;

[[noreturn]] inline void fail(const char* function, const std::string& what) {
  throw error(std::string("[lowbit::") + function + "] " + what);
}

inline void check_bits(const char* function, int bits) {
  if (!format::is_supported_bits(bits)) {
    fail(function, "bits " + std::to_string(bits) +
                       " is not supported; supported: 1, 2, 3, 4, 5, 6, 7, 8 (MLX ships 2, 3, 4, 5, 6, 8)");
  }
}

inline void check_group_size(const char* function, int group_size) {
  if (!format::is_supported_group_size(group_size)) {
    fail(function, "group_size " + std::to_string(group_size) + " is not supported; supported: 32, 64, 128");
  }
}

// Shape and pointer checks shared by every affine entry point. largest_element is the size in bytes of
// the widest element array the call reads or writes (so its byte count cannot overflow either).
inline void check_shape_and_pointers(const char* function, std::size_t rows, std::size_t cols, int group_size,
                                     std::size_t largest_element, std::initializer_list<named_pointer> pointers) {
  if (cols % static_cast<std::size_t>(group_size) != 0) {
    fail(function, "cols " + std::to_string(cols) + " is not a multiple of group_size " +
                       std::to_string(group_size));
  }
  if (rows == 0 || cols == 0) return;  // a valid no-op: nothing is read or written
  const std::size_t max = std::numeric_limits<std::size_t>::max();
  if (rows > max / cols) {
    fail(function, "rows " + std::to_string(rows) + " x cols " + std::to_string(cols) + " overflows size_t");
  }
  if (rows * cols > max / largest_element) {
    fail(function, "rows " + std::to_string(rows) + " x cols " + std::to_string(cols) + " elements of " +
                       std::to_string(largest_element) + " bytes overflow size_t");
  }
  for (const named_pointer& p : pointers) {
    if (p.second == nullptr) {
      fail(function, std::string(p.first) + " is null but rows x cols = " + std::to_string(rows) + " x " +
                         std::to_string(cols) + " is not empty");
    }
  }
}


// ---- floating-point modes (fp.hpp) -----------------------------------------------------------------
inline std::string mode_list() { return "affine, mxfp4, nvfp4, mxfp8"; }

[[noreturn]] inline void fail_unknown_mode(const char* function, std::string_view name) {
  fail(function, "unknown mode \"" + std::string(name) + "\"; supported: " + mode_list());
}

inline void check_mode_value(const char* function, mode m) {
  if (!is_valid_mode(m)) {
    fail(function, "mode " + std::to_string(static_cast<int>(m)) + " is not a lowbit::mode; supported: " + mode_list());
  }
}

// The mode of an fp-mode call (uint8 scales, no biases): mxfp4, nvfp4 or mxfp8.
inline void check_fp_mode(const char* function, mode m) {
  check_mode_value(function, m);
  if (m == mode::affine) {
    fail(function, std::string("mode affine has scales and biases of a float type; call ") + function +
                       "(wq, scales, biases, out, rows, cols, bits, group_size) (the affine overload)");
  }
}

// bits and group_size read from a configuration (e.g. MLX's config.json) against what the mode requires.
inline void check_mode_config(const char* function, mode m, int bits, int group_size) {
  check_mode_value(function, m);
  if (m == mode::affine) {
    check_bits(function, bits);
    check_group_size(function, group_size);
    return;
  }
  if (bits != mode_bits(m)) {
    fail(function, std::string("mode ") + mode_name(m) + " requires bits " + std::to_string(mode_bits(m)) +
                       "; got " + std::to_string(bits));
  }
  if (group_size != mode_group_size(m)) {
    fail(function, std::string("mode ") + mode_name(m) + " requires group_size " +
                       std::to_string(mode_group_size(m)) + "; got " + std::to_string(group_size));
  }
}

// Everything an fp-mode dequantize or quantize checks before it touches an output: the mode, the global
// scale (nvfp4 only), cols a multiple of the mode's group size, overflow, and null pointers.
inline void check_fp_call(const char* function, mode m, std::size_t rows, std::size_t cols, const float* global_scale,
                          std::size_t largest_element, std::initializer_list<named_pointer> pointers) {
  check_fp_mode(function, m);
  if (global_scale != nullptr && m != mode::nvfp4) {
    fail(function, std::string("global_scale is only used by nvfp4; mode ") + mode_name(m) +
                       " takes none (pass nullptr)");
  }
  const int group_size = mode_group_size(m);
  if (cols % static_cast<std::size_t>(group_size) != 0) {
    fail(function, std::string("mode ") + mode_name(m) + " requires cols to be a multiple of its group_size " +
                       std::to_string(group_size) + "; got cols " + std::to_string(cols));
  }
  check_shape_and_pointers(function, rows, cols, group_size, largest_element, pointers);
}

// One array of a quantized matmul, `what` (e.g. "x (M x K)") of rows x cols elements of `bytes` bytes: its
// size fits in size_t, and its pointers are not null unless it is empty.
inline void check_matmul_array(const char* function, const char* what, std::size_t rows, std::size_t cols,
                               std::size_t bytes, std::initializer_list<named_pointer> pointers) {
  if (rows == 0 || cols == 0) return;
  const std::size_t max = std::numeric_limits<std::size_t>::max();
  if (rows > max / cols || rows * cols > max / bytes) {
    fail(function, std::string(what) + " = " + std::to_string(rows) + " x " + std::to_string(cols) +
                       " overflows size_t");
  }
  for (const named_pointer& p : pointers) {
    if (p.second == nullptr) {
      fail(function, std::string(p.first) + " is null but " + what + " = " + std::to_string(rows) + " x " +
                         std::to_string(cols) + " is not empty");
    }
  }
}

// The shapes of a quantized matmul: x is M x K, the weight N x K (transpose) or K x N, y M x N; the
// weight's last dimension is quantized in groups of group_size.
inline void check_matmul_shape(const char* function, std::size_t M, std::size_t N, std::size_t K, bool transpose,
                               int group_size) {
  const std::size_t quantized = transpose ? K : N;
  if (quantized % static_cast<std::size_t>(group_size) != 0) {
    fail(function, std::string(transpose ? "K " : "N ") + std::to_string(quantized) +
                       " (the quantized dimension) is not a multiple of group_size " + std::to_string(group_size));
  }
  (void)M;
}

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_ERROR_HPP
