// lowbit/mode.hpp — MLX's quantization modes, as facts: names, bits, group sizes (MLX's `mode=` argument).
//
//   mode     bits  group  values                scale (one uint8 per group)     biases
//   affine   2..8  32/64/128  integer codes     ScaleT (float, half, bfloat16)  yes
//   mxfp4    4     32     FP4 E2M1              E8M0 (a power of two)           no
//   nvfp4    4     16     FP4 E2M1              FP8 E4M3 (+ optional float32 global scale)
//   mxfp8    8     32     FP8 E4M3              E8M0                            no
//
// The floating-point modes fix bits and group size; affine takes them as parameters (MLX's defaults:
// 4 bits, group size 64). The numeric rules of the fp modes are documented in fp.hpp.
#ifndef LOWBIT_MODE_HPP
#define LOWBIT_MODE_HPP

#include <initializer_list>
#include <string_view>

#include "config.hpp"

namespace lowbit {

/// MLX's quantization mode (`mlx.core.quantize(..., mode=...)`). The enumerators' names are MLX's strings.
enum class mode : int { affine = 0, mxfp4 = 1, nvfp4 = 2, mxfp8 = 3 };

}  // namespace lowbit

LOWBIT_BEGIN_NAMESPACE

/// True for the modes lowbit knows (a lowbit::mode cast from an arbitrary integer may be none of them).
constexpr bool is_valid_mode(mode m) noexcept {
  return m == mode::affine || m == mode::mxfp4 || m == mode::nvfp4 || m == mode::mxfp8;
}

/// True for mxfp4, nvfp4 and mxfp8: the modes with uint8 scales, no biases, and fixed bits and group size.
constexpr bool is_fp_mode(mode m) noexcept { return m == mode::mxfp4 || m == mode::nvfp4 || m == mode::mxfp8; }

/// Bits per element: 4 for mxfp4 and nvfp4, 8 for mxfp8; for affine, MLX's default (4).
constexpr int mode_bits(mode m) noexcept { return m == mode::mxfp8 ? 8 : 4; }

/// Elements per scale: 32 for mxfp4 and mxfp8, 16 for nvfp4; for affine, MLX's default (64).
constexpr int mode_group_size(mode m) noexcept {
  return m == mode::nvfp4 ? 16 : m == mode::affine ? 64 : 32;
}

/// MLX's name of the mode: "affine", "mxfp4", "nvfp4", "mxfp8" ("invalid" for an out-of-range value).
constexpr const char* mode_name(mode m) noexcept {
  switch (m) {
    case mode::affine: return "affine";
    case mode::mxfp4: return "mxfp4";
    case mode::nvfp4: return "nvfp4";
    case mode::mxfp8: return "mxfp8";
  }
  return "invalid";
}

/// Parses MLX's mode string (exact, lower case, as MLX writes it in config.json) without throwing.
/// Returns false and leaves `out` unchanged for anything else. The throwing form is lowbit::parse_mode.
constexpr bool try_parse_mode(std::string_view name, mode& out) noexcept {
  for (mode m : {mode::affine, mode::mxfp4, mode::nvfp4, mode::mxfp8}) {
    if (name == mode_name(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

LOWBIT_END_NAMESPACE

#endif  // LOWBIT_MODE_HPP
