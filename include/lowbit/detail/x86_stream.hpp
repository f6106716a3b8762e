// lowbit/detail/x86_stream.hpp — copying a block of results out with non-temporal stores (x86, AVX).
//
// Non-temporal stores go to memory through write-combining buffers: they neither read the destination
// line first (a regular store miss does) nor evict useful cache lines for a result far larger than the
// cache. Only whole, aligned lines are streamed (the caller, detail/driver.hpp, arranges that).
#pragma once

#include "../config.hpp"

#if defined(__AVX__)

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

LOWBIT_BEGIN_NAMESPACE
namespace detail {

// Copies whole cache lines to a 64-byte aligned dst (bytes a multiple of 64) with non-temporal stores.
inline void stream_lines(void* dst, const void* src, std::size_t bytes) noexcept {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  for (std::size_t i = 0; i < bytes; i += 64) {
#if defined(__AVX512F__)
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d + i), _mm512_loadu_si512(s + i));
#else
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + i), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i)));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + i + 32),
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + 32)));
#endif
  }
}

// Orders the non-temporal stores before anything that follows (another thread reading the result).
inline void stream_fence() noexcept { _mm_sfence(); }

}  // namespace detail
LOWBIT_END_NAMESPACE

#endif  // __AVX__
