#!/bin/sh
# A header-only library installs straight after configuring: cmake --install with nothing built.
#   install_without_build.sh CMAKE LOWBIT_SOURCE_DIR WORK_DIR
set -eu
cmake="$1" lowbit="$2" work="$3"
rm -rf "$work"
"$cmake" -S "$lowbit" -B "$work/build" -DLOWBIT_BUILD_BENCH=OFF >/dev/null
"$cmake" --install "$work/build" --prefix "$work/prefix"
test -f "$work/prefix/include/lowbit/lowbit.hpp"
test -f "$work/prefix/share/cmake/lowbit/lowbitConfig.cmake"
echo "ok: installed without a build"
