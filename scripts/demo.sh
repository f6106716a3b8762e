#!/usr/bin/env bash
# demo.sh [DEMO OPTIONS] — builds and runs the lowbit demo on MLX's data in tests/data (see --help).
# Built with -march=native, so the demo uses the best SIMD backend of this machine (LOWBIT_DEMO_FLAGS
# overrides the flags, e.g. LOWBIT_DEMO_FLAGS= for a portable build with the scalar reference on x86-64).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/deps.sh" build test
cmake -S "$root" -B "$root/build/demo" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOWBIT_BUILD_TESTS=OFF \
      -DLOWBIT_BUILD_BENCH=OFF -DLOWBIT_BUILD_EXAMPLES=ON -DLOWBIT_BUILD_TOOLS=OFF \
      -DCMAKE_CXX_FLAGS="${LOWBIT_DEMO_FLAGS--march=native}" >/dev/null
cmake --build "$root/build/demo" --target lowbit_demo >/dev/null
exec "$root/build/demo/examples/lowbit_demo" "$@"
