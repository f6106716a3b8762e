#!/bin/sh
# A user project that vendors lowbit as one file: it copies single_include/lowbit/lowbit.hpp into its own
# tree and builds with one plain compiler command — no CMake, no include/ directory of lowbit's.
#   build_and_run.sh CXX "CXXFLAGS" LOWBIT_SOURCE_DIR PROJECT_DIR
set -eu
cxx="$1" flags="$2" lowbit="$3" project="$4"
rm -rf "$project"
mkdir -p "$project/third_party/lowbit"
cp "$lowbit/single_include/lowbit/lowbit.hpp" "$project/third_party/lowbit/lowbit.hpp"
cp "$lowbit/tests/consumer/consumer.cpp" "$lowbit/tests/consumer/mlx_cases.hpp" "$project/"
cd "$project"
set -x
# shellcheck disable=SC2086  # the flags are a list
"$cxx" -std=c++17 -O2 $flags -I third_party consumer.cpp -o consumer
./consumer
