#!/usr/bin/env bash
# test.sh — builds and runs lowbit's whole test suite (Debian 12; installs what it needs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${LOWBIT_JOBS:-$(nproc)}"
bash "$root/scripts/deps.sh" build test bench

# build_and_test NAME [CMAKE ARGS...]: one configuration in build/NAME, all of its tests.
build_and_test() {
  local name="$1"; shift
  local dir="$root/build/$name"
  echo "=== $name"
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOWBIT_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" -j "$jobs" --output-on-failure --timeout 600 | tail -n 4
}

build_and_test native
"$root/build/native/tests/golden_test" --gtest_brief=1 | grep '\[ golden'
echo "test.sh: all passed"
