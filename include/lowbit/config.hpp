// lowbit/config.hpp — version, user configuration macros and backend selection.
//
// Define any of these before including <lowbit/lowbit.hpp> (or on the compiler command line):
//
//   LOWBIT_FORCE_SCALAR    use the portable scalar reference as the active backend.
//   LOWBIT_FORCE_AVX2      use the AVX2+F16C backend     (needs -mavx2 -mf16c).
//   LOWBIT_FORCE_AVX512    use the AVX-512 F+BW backend  (needs -mavx512f -mavx512bw).
//   LOWBIT_FORCE_NEON      use the NEON backend          (aarch64).
//
// Tuning (the same value in every translation unit of a program):
//
//   LOWBIT_STREAMING_THRESHOLD      outputs of at least this many bytes are written with non-temporal stores
//                                   (default 64 MiB; per call: options::stores).
//   LOWBIT_MIN_ELEMENTS_PER_THREAD  below this many outputs per thread, fewer threads are used (default 2^20).
//   LOWBIT_MATMUL_PREFETCH          quantized_matmul requests each row's codes this many bytes ahead
//                                   (default 1024).
//
// Detected, and overridable for compilers lowbit does not know:
//
//   LOWBIT_HAS_FLOAT16   1 if the compiler has _Float16 in C++ (lowbit then reads and writes it in place).
//   LOWBIT_MAY_ALIAS     the attribute that lets lowbit::half and lowbit::bfloat16 alias other 2-byte types.
//
// Without a LOWBIT_FORCE_* macro the best backend the compiler targets is chosen from its predefined
// macros: AVX-512 (F+BW), then AVX2 (+F16C), then NEON, else scalar. Forcing a backend the compiler
// does not target is a compile error, never a silent fallback. At most one LOWBIT_FORCE_* may be set.
//
// Every definition that contains code lives in an inline namespace named after the active backend
// and its ISA extensions (e.g. lowbit::v0_avx512), so translation units compiled with different
// -march flags link together without violating the one-definition rule. Users always write lowbit::.
#ifndef LOWBIT_CONFIG_HPP
#define LOWBIT_CONFIG_HPP

#define LOWBIT_VERSION_MAJOR 0
#define LOWBIT_VERSION_MINOR 1
#define LOWBIT_VERSION_PATCH 0
#define LOWBIT_VERSION_STRING "0.1.0"

// ---- backend ids --------------------------------------------------------------------------------
#define LOWBIT_BACKEND_SCALAR 0
#define LOWBIT_BACKEND_AVX2 1
#define LOWBIT_BACKEND_AVX512 2
#define LOWBIT_BACKEND_NEON 3

// What the compiler targets (independent of what the user forces).
#if defined(__AVX2__) && defined(__F16C__)
#define LOWBIT_HAVE_AVX2 1
#else
#define LOWBIT_HAVE_AVX2 0
#endif
#if defined(__AVX512F__) && defined(__AVX512BW__)
#define LOWBIT_HAVE_AVX512 1
#else
#define LOWBIT_HAVE_AVX512 0
#endif
#if defined(__aarch64__) && defined(__ARM_NEON)
#define LOWBIT_HAVE_NEON 1
#else
#define LOWBIT_HAVE_NEON 0
#endif

#if (defined(LOWBIT_FORCE_SCALAR) + defined(LOWBIT_FORCE_AVX2) + defined(LOWBIT_FORCE_AVX512) + \
     defined(LOWBIT_FORCE_NEON)) > 1
#error "lowbit: define at most one of LOWBIT_FORCE_SCALAR, LOWBIT_FORCE_AVX2, LOWBIT_FORCE_AVX512, LOWBIT_FORCE_NEON."
#endif

#if defined(LOWBIT_FORCE_SCALAR)
#define LOWBIT_BACKEND LOWBIT_BACKEND_SCALAR
#elif defined(LOWBIT_FORCE_AVX512)
#if !LOWBIT_HAVE_AVX512
#error "lowbit: LOWBIT_FORCE_AVX512 needs a compiler targeting AVX-512 F and BW (e.g. -mavx512f -mavx512bw)."
#endif
#define LOWBIT_BACKEND LOWBIT_BACKEND_AVX512
#elif defined(LOWBIT_FORCE_AVX2)
#if !LOWBIT_HAVE_AVX2
#error "lowbit: LOWBIT_FORCE_AVX2 needs a compiler targeting AVX2 and F16C (e.g. -mavx2 -mf16c)."
#endif
#define LOWBIT_BACKEND LOWBIT_BACKEND_AVX2
#elif defined(LOWBIT_FORCE_NEON)
#if !LOWBIT_HAVE_NEON
#error "lowbit: LOWBIT_FORCE_NEON needs a compiler targeting aarch64 with NEON."
#endif
#define LOWBIT_BACKEND LOWBIT_BACKEND_NEON
#elif LOWBIT_HAVE_AVX512
#define LOWBIT_BACKEND LOWBIT_BACKEND_AVX512
#elif LOWBIT_HAVE_AVX2
#define LOWBIT_BACKEND LOWBIT_BACKEND_AVX2
#elif LOWBIT_HAVE_NEON
#define LOWBIT_BACKEND LOWBIT_BACKEND_NEON
#else
#define LOWBIT_BACKEND LOWBIT_BACKEND_SCALAR
#endif

// ---- ISA extensions a backend may use under their own guards --------------------------------------
// They change the generated code, so they are part of the ABI namespace name.
#if LOWBIT_BACKEND == LOWBIT_BACKEND_NEON && defined(__ARM_FEATURE_FP16_VECTOR_ARITHMETIC)
#define LOWBIT_NEON_FP16 1
#else
#define LOWBIT_NEON_FP16 0
#endif
#if LOWBIT_BACKEND == LOWBIT_BACKEND_NEON && defined(__ARM_FEATURE_BF16_VECTOR_ARITHMETIC)
#define LOWBIT_NEON_BF16 1
#else
#define LOWBIT_NEON_BF16 0
#endif
#if LOWBIT_BACKEND == LOWBIT_BACKEND_AVX512 && defined(__AVX512VBMI__) && defined(__AVX512VL__)
#define LOWBIT_AVX512_VBMI 1
#else
#define LOWBIT_AVX512_VBMI 0
#endif

// ---- the ABI namespace --------------------------------------------------------------------------
#if LOWBIT_BACKEND == LOWBIT_BACKEND_AVX512
#if LOWBIT_AVX512_VBMI
#define LOWBIT_ABI_NAMESPACE v0_avx512_vbmi
#else
#define LOWBIT_ABI_NAMESPACE v0_avx512
#endif
#elif LOWBIT_BACKEND == LOWBIT_BACKEND_AVX2
#define LOWBIT_ABI_NAMESPACE v0_avx2
#elif LOWBIT_BACKEND == LOWBIT_BACKEND_NEON
#if LOWBIT_NEON_FP16 && LOWBIT_NEON_BF16
#define LOWBIT_ABI_NAMESPACE v0_neon_fp16_bf16
#elif LOWBIT_NEON_FP16
#define LOWBIT_ABI_NAMESPACE v0_neon_fp16
#elif LOWBIT_NEON_BF16
#define LOWBIT_ABI_NAMESPACE v0_neon_bf16
#else
#define LOWBIT_ABI_NAMESPACE v0_neon
#endif
#else
#define LOWBIT_ABI_NAMESPACE v0_scalar
#endif

#define LOWBIT_BEGIN_NAMESPACE \
  namespace lowbit {           \
  inline namespace LOWBIT_ABI_NAMESPACE {
#define LOWBIT_END_NAMESPACE \
  }                          \
  }

// ---- tuning ---------------------------------------------------------------------------------------
#ifndef LOWBIT_STREAMING_THRESHOLD
// Non-temporal stores bypass the caches, which a result much larger than the last-level cache would only
// evict, and skip reading each line before writing it; smaller results stay in cache for their consumer.
// Measured on a 32 MiB-L3 machine: streaming wins by 1.4x at 64 MiB of float output and loses slightly at
// 32 MiB.
#define LOWBIT_STREAMING_THRESHOLD (std::size_t{64} << 20)
#endif
#ifndef LOWBIT_MIN_ELEMENTS_PER_THREAD
// Starting a thread costs tens of microseconds; a smaller call runs inline on the caller's thread.
#define LOWBIT_MIN_ELEMENTS_PER_THREAD (std::size_t{1} << 20)
#endif
#ifndef LOWBIT_MATMUL_PREFETCH
// Far enough ahead to cover the memory latency at the rate a core consumes codes, near enough to stay in L1.
#define LOWBIT_MATMUL_PREFETCH 1024
#endif

// ---- compiler features ----------------------------------------------------------------------------
#ifndef LOWBIT_HAS_FLOAT16  // _Float16 in C++: clang; GCC 12 on x86, GCC 13+ elsewhere
#if defined(__FLT16_MAX__) && \
    (defined(__clang__) || (defined(__GNUC__) && (__GNUC__ >= 13 || defined(__x86_64__) || defined(__i386__))))
#define LOWBIT_HAS_FLOAT16 1
#else
#define LOWBIT_HAS_FLOAT16 0
#endif
#endif
#ifndef LOWBIT_MAY_ALIAS
#if defined(__GNUC__) || defined(__clang__)
// Users hand lowbit arrays of their own 2-byte types (_Float16, Eigen::half, raw uint16_t) to be read in
// place; may_alias keeps type-based alias analysis from reordering those accesses.
#define LOWBIT_MAY_ALIAS __attribute__((__may_alias__))
#else
#define LOWBIT_MAY_ALIAS
#endif
#endif

// ---- compiler helpers (internal) ------------------------------------------------------------------
// LOWBIT_UNROLL: fully unroll the next loop (its trip count is a compile-time constant).
#if defined(__clang__)
#define LOWBIT_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define LOWBIT_UNROLL _Pragma("GCC unroll 16")
#else
#define LOWBIT_UNROLL
#endif
// LOWBIT_UNROLL_GCC: the same for GCC only, on loops whose bodies call the kernels' lambdas: clang unrolls
// them by itself when it can, and refuses (a -Wpass-failed warning) at -O1 with sanitizers.
#if defined(__GNUC__) && !defined(__clang__)
#define LOWBIT_UNROLL_GCC _Pragma("GCC unroll 16")
#else
#define LOWBIT_UNROLL_GCC
#endif

// GCC 12's AVX-512 intrinsics fill unused operands with _mm512_undefined_*(), which it then reports as
// "may be used uninitialized" inside the intrinsic headers (GCC bug 105593): the AVX-512 kernels' headers
// silence it. Nothing is uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#define LOWBIT_AVX512_WARNINGS_OFF                                   \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"") \
      _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")
#define LOWBIT_AVX512_WARNINGS_ON _Pragma("GCC diagnostic pop")
#else
#define LOWBIT_AVX512_WARNINGS_OFF
#define LOWBIT_AVX512_WARNINGS_ON
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LOWBIT_ALWAYS_INLINE inline __attribute__((always_inline))
#define LOWBIT_NOINLINE __attribute__((noinline))
#define LOWBIT_PREFETCH(address) __builtin_prefetch(address)
#elif defined(_MSC_VER)
#define LOWBIT_ALWAYS_INLINE __forceinline
#define LOWBIT_NOINLINE __declspec(noinline)
#define LOWBIT_PREFETCH(address) ((void)(address))
#else
#define LOWBIT_ALWAYS_INLINE inline
#define LOWBIT_NOINLINE
#define LOWBIT_PREFETCH(address) ((void)(address))
#endif

#endif  // LOWBIT_CONFIG_HPP
