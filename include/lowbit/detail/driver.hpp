// lowbit/detail/driver.hpp — from a public call to a kernel, for every mode: validation (error.hpp), the
// one switch from run-time parameters (bits and group size, or the fp mode) to compile-time kernels, the
// split of the matrix across threads or an executor, the padding of the last groups' codes, and the store
// policy.
//
// The driver sees a matrix as a sequence of groups. A job names the kernel for one configuration: its group
// size, words of codes per group, output type, and a call that dequantizes n consecutive groups starting at
// group g from codes the driver hands it (the matrix's own, or a padded copy of the last ones).
#ifndef LOWBIT_DETAIL_DRIVER_HPP
#define LOWBIT_DETAIL_DRIVER_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>
#include <vector>

#include "../config.hpp"
#include "../error.hpp"
#include "../format.hpp"
#include "../mode.hpp"
#include "../parallel.hpp"
#include "../types.hpp"
#include "fp_numeric.hpp"
#include "matmul.hpp"
#include "scalar/affine.hpp"
#include "scalar/fp.hpp"

LOWBIT_BEGIN_NAMESPACE
namespace detail {

// ---- from run-time to compile-time parameters -----------------------------------------------------
template <int V>
using int_constant = std::integral_constant<int, V>;
template <mode M>
using mode_constant = std::integral_constant<mode, M>;

template <int GroupSize, class F>
void with_bits(int bits, F&& f) {
  switch (bits) {
    case 1: return f(int_constant<1>{}, int_constant<GroupSize>{});
    case 2: return f(int_constant<2>{}, int_constant<GroupSize>{});
    case 3: return f(int_constant<3>{}, int_constant<GroupSize>{});
    case 4: return f(int_constant<4>{}, int_constant<GroupSize>{});
    case 5: return f(int_constant<5>{}, int_constant<GroupSize>{});
    case 6: return f(int_constant<6>{}, int_constant<GroupSize>{});
    case 7: return f(int_constant<7>{}, int_constant<GroupSize>{});
    default: return f(int_constant<8>{}, int_constant<GroupSize>{});
  }
}

// Calls f(int_constant<bits>, int_constant<group_size>) for validated run-time values.
template <class F>
void with_config(int bits, int group_size, F&& f) {
  switch (group_size) {
    case 32: return with_bits<32>(bits, f);
    case 64: return with_bits<64>(bits, f);
    default: return with_bits<128>(bits, f);
  }
}

// Calls f(mode_constant<m>) for a validated fp mode.
template <class F>
void with_fp_mode(mode m, F&& f) {
  switch (m) {
    case mode::mxfp4: return f(mode_constant<mode::mxfp4>{});
    case mode::nvfp4: return f(mode_constant<mode::nvfp4>{});
    default: return f(mode_constant<mode::mxfp8>{});
  }
}

// A user's array as the lowbit storage type it shares a layout with (types.hpp).
template <class T>
LOWBIT_ALWAYS_INLINE const storage_t<T>* as_storage(const T* p) noexcept {
  return reinterpret_cast<const storage_t<T>*>(p);
}
template <class T>
LOWBIT_ALWAYS_INLINE storage_t<T>* as_storage(T* p) noexcept {
  return reinterpret_cast<storage_t<T>*>(p);
}

// ---- jobs: one configuration's kernel ---------------------------------------------------------------
template <class Kernels, int Bits, int GroupSize, class S, class O>
struct affine_job {
  using output = O;
  static constexpr int group_size = GroupSize;
  static constexpr std::size_t words = format::words_per_group(Bits, GroupSize);
  static constexpr bool streams_directly = Kernels::streams_directly;
  const S* scales;
  const S* biases;
  template <bool Stream>
  void run(const std::uint32_t* codes, std::size_t g, std::size_t n, O* out) const noexcept {
    Kernels::template dequantize<Bits, GroupSize, Stream>(codes, scales + g, biases + g, out, n);
  }
};

template <class Kernels, mode M, bool Global, class O>
struct fp_job {
  using output = O;
  static constexpr int group_size = mode_group_size(M);
  static constexpr std::size_t words = static_cast<std::size_t>(mode_group_size(M) * mode_bits(M) / 32);
  static constexpr bool streams_directly = false;  // streaming goes through the driver's buffer
  const std::uint8_t* scales;
  float decode;
  template <bool Stream>
  void run(const std::uint32_t* codes, std::size_t g, std::size_t n, O* out) const noexcept {
    static_assert(!Stream, "fp kernels store regularly");
    Kernels::template dequantize_fp<M, Global>(codes, scales + g, out, n, decode);
  }
};

// ---- the walk over groups ---------------------------------------------------------------------------
// Groups [g, g + n) of a matrix of `total` groups, into out. Kernels may read Kernels::overread bytes past
// the codes they are given, which for small groups reaches past several groups: the last `tail` groups of
// the matrix are therefore read from a zero-padded copy of their codes.
// Stream: the kernel's non-temporal variant (Job::streams_directly), for a 64-byte aligned out.
template <class Kernels, bool Stream = false, class Job>
void run_kernel(const Job& job, const std::uint32_t* wq, typename Job::output* out, std::size_t g, std::size_t n,
                std::size_t total) {
  constexpr std::size_t words = Job::words;
  constexpr std::size_t tail = (Kernels::overread + 4 * words - 1) / (4 * words);  // groups reading past the end
  const std::size_t safe_end = total > tail ? total - tail : 0;  // groups before this read only codes
  const std::size_t direct = g + n <= safe_end ? n : (g < safe_end ? safe_end - g : 0);
  if (direct != 0) job.template run<Stream>(wq + g * words, g, direct, out);
  if constexpr (tail != 0) {
    if (direct == n) return;
    const std::size_t rest = n - direct;  // at most `tail` groups, ending the matrix
    alignas(64) std::uint32_t padded[tail * words + (Kernels::overread + 3) / 4] = {};
    std::memcpy(padded, wq + (g + direct) * words, rest * words * 4);
    job.template run<Stream>(padded, g + direct, rest, out + direct * Job::group_size);
  }
}

// With non-temporal stores. A non-temporal line written in parts costs a read of the line, so only whole
// aligned lines may be streamed. A kernel that stores non-temporally itself (Job::streams_directly) does so
// when out is 64-byte aligned, since each group's output is then whole lines. Otherwise the kernels compute
// each block of groups into a buffer in L1 and whole aligned 64-byte lines are copied out with
// non-temporal stores (Kernels::stream_lines); the ends of the range, where a line is only partly ours, are
// written with memcpy, and the piece of a line left at the end of a block is carried into the next one, so
// no line is ever streamed in parts. Blocks are small (1 KiB), so the stores drain while the next block is
// computed (8 KiB blocks measured half as fast).
template <class Kernels, class Job>
void run_streaming(const Job& job, const std::uint32_t* wq, typename Job::output* out, std::size_t first,
                   std::size_t last, std::size_t total) {
  using O = typename Job::output;
  constexpr int group_size = Job::group_size;
  if constexpr (Job::streams_directly) {
    static_assert(group_size * sizeof(O) % 64 == 0, "a group's output is whole lines");
    if (reinterpret_cast<std::uintptr_t>(out) % 64 == 0) {
      run_kernel<Kernels, true>(job, wq, out + first * group_size, first, last - first, total);
      Kernels::stream_fence();
      return;
    }
  }
  constexpr std::size_t line = 64 / sizeof(O);  // elements per cache line
  constexpr std::size_t block = 1024 / (group_size * sizeof(O)) > 0 ? 1024 / (group_size * sizeof(O)) : 1;
  alignas(64) O buffer[block * group_size + 2 * line];
  O* dst = out + first * group_size;  // where base[0] belongs
  O* base = buffer;                   // base + carry is 64-byte aligned: the kernels' stores are aligned
  std::size_t carry = 0;              // elements at base[0, carry) not yet written
  for (std::size_t g = first; g < last;) {
    const std::size_t n = last - g < block ? last - g : block;
    run_kernel<Kernels>(job, wq, base + carry, g, n, total);
    const std::size_t have = carry + n * group_size;
    std::size_t head = (64 - reinterpret_cast<std::uintptr_t>(dst) % 64) % 64 / sizeof(O);
    if (head > have) head = have;
    if (head != 0) std::memcpy(dst, base, head * sizeof(O));  // the first block only
    const std::size_t lines = (have - head) / line;
    Kernels::stream_lines(dst + head, base + head, lines * line * sizeof(O));
    const std::size_t done = head + lines * line;
    const std::size_t left = have - done;  // less than a line
    O* next = buffer + (line - left) % line;  // next + left is aligned again
    O piece[line];
    std::memcpy(piece, base + done, sizeof piece);  // a whole line's worth: the buffer has room
    std::memcpy(next, piece, sizeof piece);
    base = next, carry = left, dst += done, g += n;
  }
  std::memcpy(dst, base, carry * sizeof(O));
  Kernels::stream_fence();
}

// A validated matrix of `groups` groups, on the threads or executor the options name, with their store policy.
template <class Kernels, class Job>
void dequantize_groups(const Job& job, const std::uint32_t* wq, typename Job::output* out, std::size_t groups,
                       const options& opt) {
  using O = typename Job::output;
  constexpr int group_size = Job::group_size;
  const std::size_t elements = groups * group_size;
  const bool streaming =
      Kernels::has_streaming_stores &&
      (opt.stores == store_policy::streaming ||
       (opt.stores == store_policy::automatic && elements * sizeof(O) >= LOWBIT_STREAMING_THRESHOLD));
  // Tasks of about 64 KiB of output each (whole groups), so that an executor can balance them.
  const std::size_t per_task = (std::size_t{65536} / (group_size * sizeof(O))) + 1;
  const std::size_t tasks = (groups + per_task - 1) / per_task;
  const auto task = [&](std::size_t begin, std::size_t end) {
    const std::size_t last = end * per_task < groups ? end * per_task : groups;
    const std::size_t first = begin * per_task;
    if (first >= last) return;
    if (streaming) {
      run_streaming<Kernels>(job, wq, out, first, last, groups);
    } else {
      run_kernel<Kernels>(job, wq, out + first * group_size, first, last - first, groups);
    }
  };
  if (opt.executor) {
    opt.executor(tasks, task);
  } else {
    run_on_threads(thread_count(opt.threads, elements), tasks, task);
  }
}

// ---- the public calls' bodies ------------------------------------------------------------------------
// Compile-time checks of the public templates' parameters.
template <int Bits, int GroupSize>
constexpr void check_config() noexcept {
  static_assert(format::is_supported_bits(Bits), "lowbit: Bits must be between 1 and 8 (MLX ships 2, 3, 4, 5, 6 and 8).");
  static_assert(format::is_supported_group_size(GroupSize), "lowbit: GroupSize must be 32, 64 or 128.");
}
template <class ScaleT, class OutT>
constexpr void check_types() noexcept {
  static_assert(is_storage_type<ScaleT>::value,
                "lowbit: ScaleT must be float, lowbit::half, lowbit::bfloat16, or a type lowbit::storage_of maps "
                "onto one of them");
  static_assert(is_storage_type<OutT>::value,
                "lowbit: OutT must be float, lowbit::half, lowbit::bfloat16, or a type lowbit::storage_of maps "
                "onto one of them");
}
template <class T>
constexpr void check_element_type() noexcept {
  static_assert(is_storage_type<T>::value,
                "lowbit: the element type must be float, lowbit::half, lowbit::bfloat16, or a type "
                "lowbit::storage_of maps onto one of them");
}

inline options config_options(int bits, int group_size) {
  options opt;
  opt.bits = bits;
  opt.group_size = group_size;
  return opt;
}

template <class S, class O>
constexpr std::size_t widest() noexcept {
  return sizeof(S) > sizeof(O) ? sizeof(S) : sizeof(O);
}

template <class Kernels, int Bits, int GroupSize, class S, class O>
void dequantize_affine(const std::uint32_t* wq, const S* scales, const S* biases, O* out, std::size_t rows,
                       std::size_t cols, const options& opt = options()) {
  check_shape_and_pointers("dequantize", rows, cols, GroupSize, widest<S, O>(),
                           {{"wq", wq}, {"scales", scales}, {"biases", biases}, {"out", out}});
  if (rows == 0 || cols == 0) return;
  const affine_job<Kernels, Bits, GroupSize, S, O> job{scales, biases};
  dequantize_groups<Kernels>(job, wq, out, rows * (cols / GroupSize), opt);
}

template <class Kernels, class S, class O>
void dequantize_affine(const std::uint32_t* wq, const S* scales, const S* biases, O* out, std::size_t rows,
                       std::size_t cols, const options& opt) {
  check_bits("dequantize", opt.bits);
  check_group_size("dequantize", opt.group_size);
  with_config(opt.bits, opt.group_size, [&](auto b, auto g) {
    dequantize_affine<Kernels, decltype(b)::value, decltype(g)::value>(wq, scales, biases, out, rows, cols, opt);
  });
}

// opt.bits and opt.group_size do not apply: the mode fixes them.
template <class Kernels, mode M, class O>
void dequantize_fp(const std::uint32_t* wq, const std::uint8_t* scales, O* out, std::size_t rows, std::size_t cols,
                   const float* global_scale, const options& opt = options()) {
  check_fp_call("dequantize", M, rows, cols, global_scale, sizeof(O),  // out: the widest array
                {{"wq", wq}, {"scales", scales}, {"out", out}});
  if (rows == 0 || cols == 0) return;
  const std::size_t groups = rows * (cols / mode_group_size(M));
  if (M == mode::nvfp4 && global_scale != nullptr) {
    const fp_job<Kernels, M, true, O> job{scales, fp::global_decode(*global_scale)};
    dequantize_groups<Kernels>(job, wq, out, groups, opt);
  } else {
    const fp_job<Kernels, M, false, O> job{scales, 0.0f};
    dequantize_groups<Kernels>(job, wq, out, groups, opt);
  }
}

template <class Kernels, class O>
void dequantize_fp(mode m, const std::uint32_t* wq, const std::uint8_t* scales, O* out, std::size_t rows,
                   std::size_t cols, const float* global_scale, const options& opt = options()) {
  check_fp_mode("dequantize", m);
  with_fp_mode(m, [&](auto mc) {
    dequantize_fp<Kernels, decltype(mc)::value>(wq, scales, out, rows, cols, global_scale, opt);
  });
}

// The fp modes' public calls: a user's output type, checked, as its storage type.
template <class Kernels, class OutT>
void dequantize_fp_of(mode m, const std::uint32_t* wq, const std::uint8_t* scales, OutT* out, std::size_t rows,
                      std::size_t cols, const float* global_scale, const options& opt) {
  check_element_type<OutT>();
  dequantize_fp<Kernels>(m, wq, scales, as_storage(out), rows, cols, global_scale, opt);
}

template <class T>
void quantize_affine(const T* w, std::uint32_t* wq, T* scales, T* biases, std::size_t rows, std::size_t cols,
                     int bits, int group_size) {
  check_bits("quantize", bits);
  check_group_size("quantize", group_size);
  check_shape_and_pointers("quantize", rows, cols, group_size, sizeof(T),
                           {{"w", w}, {"wq", wq}, {"scales", scales}, {"biases", biases}});
  if (rows == 0 || cols == 0) return;
  with_config(bits, group_size, [&](auto b, auto g) {
    quantize_groups<decltype(b)::value, decltype(g)::value>(w, wq, scales, biases,
                                                            rows * (cols / decltype(g)::value));
  });
}

template <mode M, class T>
void quantize_fp(const T* w, std::uint32_t* wq, std::uint8_t* scales, std::size_t rows, std::size_t cols,
                 const float* global_scale) {
  check_fp_call("quantize", M, rows, cols, global_scale, sizeof(T),  // w: the widest array
                {{"w", w}, {"wq", wq}, {"scales", scales}});
  if (rows == 0 || cols == 0) return;
  fp_quantize_groups<M>(w, wq, scales, rows * (cols / mode_group_size(M)), global_scale);
}

template <class T>
void quantize_fp(mode m, const T* w, std::uint32_t* wq, std::uint8_t* scales, std::size_t rows, std::size_t cols,
                 const float* global_scale) {
  check_fp_mode("quantize", m);
  with_fp_mode(m, [&](auto mc) { quantize_fp<decltype(mc)::value>(w, wq, scales, rows, cols, global_scale); });
}

// ---- quantized matmul ---------------------------------------------------------------------------------
// Checks a quantized matmul's arguments (the weight's own: wq and its scales, biases).
template <class XT, class YT>
void check_matmul(const char* function, std::size_t M, std::size_t N, std::size_t K, bool transpose, int group_size,
                  const XT* x, YT* y, std::initializer_list<named_pointer> weight) {
  check_matmul_shape(function, M, N, K, transpose, group_size);
  check_matmul_array(function, "x (M x K)", M, K, sizeof(XT), {{"x", x}});
  check_matmul_array(function, transpose ? "the weight (N x K)" : "the weight (K x N)", transpose ? N : K,
                     transpose ? K : N, sizeof(float), weight);
  check_matmul_array(function, "y (M x N)", M, N, sizeof(float), {{"y", y}});
}

// A validated product of float x and y (K > 0): transposed, the group sums of x; the weight's rows
// (transposed) or its groups along N split across threads or the executor. The last rows of a transposed
// weight whose codes a kernel's over-read would pass are read from a zero-padded copy. Templated on the
// weight alone: the types of x and y are the caller's (with_float_io), so each configuration compiles once.
template <class Kernels, class Weights>
void matmul(const Weights& w, const float* x, const std::uint32_t* wq, float* y, std::size_t M, std::size_t N,
            std::size_t K, bool transpose, const options& opt) {
  constexpr std::size_t gs = static_cast<std::size_t>(Weights::group_size), words = Weights::words;
  std::vector<float> x_sums;
  if (transpose) {
    x_sums.resize(M * (K / gs));
    for (std::size_t i = 0; i < x_sums.size(); ++i) {
      float sum = 0.0f;
      for (std::size_t k = 0; k < gs; ++k) sum += x[i * gs + k];
      x_sums[i] = sum;
    }
  }
  std::vector<float> x_storage;
  const float* x_ordered = transpose ? Kernels::template order_x<Weights>(x, M * K, x_storage) : x;
  const matmul_problem p{x_ordered, x_sums.data(), y, M, N, K};
  std::size_t units, per_task;  // rows of W, or groups along N
  std::function<void(std::size_t, std::size_t)> run;
  if (transpose) {
    const std::size_t groups = K / gs, row_words = groups * words;
    const std::size_t tail = (Kernels::overread + 4 * row_words - 1) / (4 * row_words);  // rows reading past
    const std::size_t safe_end = N > tail ? N - tail : 0;
    units = N, per_task = std::size_t{65536} / K + 1;
    run = [&, groups, row_words, safe_end](std::size_t first, std::size_t last) {
      const std::size_t direct_end = last < safe_end ? last : (first < safe_end ? safe_end : first);
      if (direct_end > first) {
        Kernels::matmul_rows(w.at(first * groups), wq + first * row_words, p, first, direct_end - first);
      }
      if (direct_end < last) {
        std::vector<std::uint32_t> padded((last - direct_end) * row_words + (Kernels::overread + 3) / 4);
        std::memcpy(padded.data(), wq + direct_end * row_words, (last - direct_end) * row_words * 4);
        Kernels::matmul_rows(w.at(direct_end * groups), padded.data(), p, direct_end, last - direct_end);
      }
    };
  } else {
    units = N / gs, per_task = std::size_t{65536} / (K * gs) + 1;
    run = [&](std::size_t first, std::size_t last) {
      Kernels::matmul_columns(w.at(first), wq + first * words, p, first, last - first);
    };
  }
  const std::size_t tasks = (units + per_task - 1) / per_task;
  const auto task = [&](std::size_t begin, std::size_t end) {
    const std::size_t first = begin * per_task, last = end * per_task < units ? end * per_task : units;
    if (first < last) run(first, last);
  };
  if (opt.executor) {
    opt.executor(tasks, task);
  } else {
    run_on_threads(thread_count(opt.threads, N * K), tasks, task);
  }
}

// Runs f(x as float, y as float) for x of XT and y of YT (converting where they are not float), after the
// empty shapes: M or N zero writes nothing, K zero writes zeros.
template <class XT, class YT, class F>
void with_float_io(const XT* x, YT* y, std::size_t M, std::size_t N, std::size_t K, F&& f) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (std::size_t i = 0; i < M * N; ++i) y[i] = convert<YT>(0.0f);
    return;
  }
  std::vector<float> x_float, y_float;
  const float* xf = reinterpret_cast<const float*>(x);
  if constexpr (!std::is_same<XT, float>::value) {
    x_float.resize(M * K);
    for (std::size_t i = 0; i < M * K; ++i) x_float[i] = static_cast<float>(x[i]);
    xf = x_float.data();
  }
  float* yf = reinterpret_cast<float*>(y);
  if constexpr (!std::is_same<YT, float>::value) {
    y_float.resize(M * N);
    yf = y_float.data();
  }
  f(xf, yf);
  if constexpr (!std::is_same<YT, float>::value) {
    for (std::size_t i = 0; i < M * N; ++i) y[i] = YT(yf[i]);
  }
}

template <class Kernels, class XT, class S, class YT>
void quantized_matmul_affine(const XT* x, const std::uint32_t* wq, const S* scales, const S* biases, YT* y,
                             std::size_t M, std::size_t N, std::size_t K, bool transpose, const options& opt) {
  check_bits("quantized_matmul", opt.bits);
  check_group_size("quantized_matmul", opt.group_size);
  check_matmul("quantized_matmul", M, N, K, transpose, opt.group_size, x, y,
               {{"wq", wq}, {"scales", scales}, {"biases", biases}});
  with_float_io(x, y, M, N, K, [&](const float* xf, float* yf) {
    with_config(opt.bits, opt.group_size, [&](auto b, auto g) {
      const affine_weights<decltype(b)::value, decltype(g)::value, S> w{scales, biases};
      matmul<Kernels>(w, xf, wq, yf, M, N, K, transpose, opt);
    });
  });
}

template <class Kernels, class XT, class YT>
void quantized_matmul_fp(mode m, const XT* x, const std::uint32_t* wq, const std::uint8_t* scales, YT* y,
                         std::size_t M, std::size_t N, std::size_t K, bool transpose, const float* global_scale,
                         const options& opt) {
  check_fp_mode("quantized_matmul", m);
  if (global_scale != nullptr && m != mode::nvfp4) {
    fail("quantized_matmul", std::string("global_scale is only used by nvfp4; mode ") + mode_name(m) +
                                 " takes none (pass nullptr)");
  }
  check_matmul("quantized_matmul", M, N, K, transpose, mode_group_size(m), x, y, {{"wq", wq}, {"scales", scales}});
  with_float_io(x, y, M, N, K, [&](const float* xf, float* yf) {
    with_fp_mode(m, [&](auto mc) {
      constexpr mode md = decltype(mc)::value;
      if constexpr (md == mode::nvfp4) {
        if (global_scale != nullptr) {
          const fp_weights<md, true> w{scales, fp::global_decode(*global_scale)};
          return matmul<Kernels>(w, xf, wq, yf, M, N, K, transpose, opt);
        }
      }
      matmul<Kernels>(fp_weights<md, false>{scales, 0.0f}, xf, wq, yf, M, N, K, transpose, opt);
    });
  });
}

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // LOWBIT_DETAIL_DRIVER_HPP
