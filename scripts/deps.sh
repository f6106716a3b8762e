#!/usr/bin/env bash
# deps.sh GROUP... — installs the Debian packages a task needs, only those missing (Debian 12; root or sudo).
#   build   compiler, CMake, python3    test    GoogleTest, nlohmann/json, Eigen
#   bench   Google Benchmark, gnuplot, Eigen and OpenBLAS (baselines)   cross   aarch64 cross compiler, qemu-user
#   clang   clang-19 and its sanitizer/fuzzer runtime, llvm tools
set -euo pipefail
pkgs=()
for group in "$@"; do
  case "$group" in
    build) pkgs+=(g++ cmake ninja-build make python3) ;;
    test) pkgs+=(googletest libgtest-dev nlohmann-json3-dev libeigen3-dev) ;;
    bench) pkgs+=(libbenchmark-dev gnuplot-nox libeigen3-dev libopenblas-dev pkg-config) ;;
    cross) pkgs+=(g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user) ;;
    clang) pkgs+=(clang-19 libclang-rt-19-dev llvm-19) ;;
    *) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps.sh: installing ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
