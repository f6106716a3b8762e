#!/usr/bin/env bash
# test.sh [--all] — builds and runs lowbit's tests (Debian 12; installs what it needs).
#
#   bash scripts/test.sh         the native configuration: every test, the consumer projects (find_package,
#                                add_subdirectory, the single header with one compiler command), the single
#                                header's golden tests, the Eigen adapter and lowbit-convert. A few minutes.
#   bash scripts/test.sh --all   the whole matrix, as CI runs it (.ci/run), each configuration the CPU runs:
#     x86-64: the native one; scalar forced on a CPU with FMA; AVX2; AVX-512 (a CPU without it cannot test
#             the AVX-512 kernels: Debian 12 packages no user-mode emulator of AVX-512); -march=native;
#     aarch64 (cross-compiled, run under qemu-user): baseline armv8-a on a Cortex-A53 (no fp16: a stray fp16
#             instruction is a SIGILL), armv8.6-a+fp16+bf16, and clang -mcpu=apple-m1 as Apple Silicon
#             users build.
# Every configuration builds lowbit's targets with -Wall -Wextra -Wpedantic -Werror and runs its tests.
# LOWBIT_TEST_CONFIGS, a space-separated list of the names below, runs only those.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${LOWBIT_JOBS:-$(nproc)}"
case "${1:-}" in
  --all) only="${LOWBIT_TEST_CONFIGS:-}" ;;
  "") only="${LOWBIT_TEST_CONFIGS:-native}" ;;
  *) echo "usage: bash scripts/test.sh [--all]" >&2; exit 2 ;;
esac
if [[ -z "$only" || "$only" == *arm-* ]]; then
  bash "$root/scripts/deps.sh" build test bench cross clang
else
  bash "$root/scripts/deps.sh" build test bench
fi
start=$SECONDS

cpu_has() { for f in "$@"; do grep -qw "$f" /proc/cpuinfo || return 1; done; }
wanted() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }

# config NAME [CMAKE ARGS...]: one configuration in build/NAME, all of its tests.
config() {
  local name="$1"; shift
  wanted "$name" || return 0
  local dir="$root/build/$name" t0=$SECONDS
  echo "=== $name"
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOWBIT_WERROR=ON "$@" >/dev/null
  if ! cmake --build "$dir" -j "$jobs" >"$dir/build.log" 2>&1; then
    cat "$dir/build.log"
    echo "test.sh: $name does not build"
    exit 1
  fi
  if ! ctest --test-dir "$dir" -j "$jobs" --output-on-failure --timeout 900 >"$dir/ctest.log" 2>&1; then
    cat "$dir/ctest.log"
    echo "test.sh: $name FAILED (log: $dir/ctest.log)"
    exit 1
  fi
  grep -E "tests passed" "$dir/ctest.log"
  echo "--- $name: $((SECONDS - t0))s"
}
# The native configuration builds and runs everything (consumer projects, the single header for every ISA
# the CPU runs, Eigen, lowbit-convert). The others build the tests whose outcome depends on the backend and
# the flags: every kernel against the scalar reference, the golden files, threads, errors, the fuzz corpus.
backend_only=(-DLOWBIT_BUILD_BENCH=OFF -DLOWBIT_BUILD_EXAMPLES=OFF -DLOWBIT_BUILD_TOOLS=OFF -DLOWBIT_TEST_BACKEND_ONLY=ON)
arm=(-DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" "${backend_only[@]}")
x86=("${backend_only[@]}")
# Release is -O3; some configurations build at -O2 instead: users build both ways, and -O2 compiles the
# kernel grid a third faster.
o2=(-DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG")

config native
if cpu_has fma f16c; then config x86-scalar "${x86[@]}" "${o2[@]}" -DCMAKE_CXX_FLAGS="-march=native" -DLOWBIT_TESTS_FORCE_BACKEND=SCALAR; fi
if cpu_has avx2 fma f16c bmi2 movbe; then config x86-avx2 "${x86[@]}" "${o2[@]}" -DCMAKE_CXX_FLAGS="-march=x86-64-v3"; fi
if cpu_has avx512f avx512bw avx512cd avx512dq avx512vl; then
  config x86-avx512 "${x86[@]}" "${o2[@]}" -DCMAKE_CXX_FLAGS="-march=x86-64-v4"
fi
# -march=native runs on every machine; here it is also the only build tuned for this core (-O3).
config x86-native "${x86[@]}" -DCMAKE_CXX_FLAGS="-march=native"
config arm-base "${arm[@]}" "${o2[@]}" -DCMAKE_CXX_FLAGS="-march=armv8-a" -DLOWBIT_QEMU_CPU=cortex-a53
config arm-fp16 "${arm[@]}" "${o2[@]}" -DCMAKE_CXX_FLAGS="-march=armv8.6-a+fp16+bf16" -DLOWBIT_QEMU_CPU=max
config arm-clang "${arm[@]}" -DLOWBIT_CROSS_CXX=clang++-19 -DCMAKE_CXX_FLAGS="-mcpu=apple-m1" -DLOWBIT_QEMU_CPU=max

if wanted native; then "$root/build/native/tests/golden_test" --gtest_brief=1 | grep '\[ golden'; fi
echo "test.sh: all passed ($((SECONDS - start))s)"
