#!/usr/bin/env bash
# demo.sh [DEMO OPTIONS] — builds and runs the lowbit demo on MLX's data in tests/data (see --help).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/deps.sh" build test
cmake -S "$root" -B "$root/build/demo" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOWBIT_BUILD_TESTS=OFF \
      -DLOWBIT_BUILD_BENCH=OFF -DLOWBIT_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$root/build/demo" --target lowbit_demo >/dev/null
exec "$root/build/demo/examples/lowbit_demo" "$@"
