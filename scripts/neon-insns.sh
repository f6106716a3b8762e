#!/usr/bin/env bash
# neon-insns.sh — instructions executed per output element by the NEON kernels (bits 3, 4, 8; group 64;
# half->half and float->float), for the baseline armv8-a build, the fp16 build and clang -mcpu=apple-m1,
# next to the scalar reference; and per multiply-add by quantized_matmul. A deterministic proxy for NEON speed on this x86 machine: it runs
# bench/neon_insns.cpp under qemu with the qemu-insncount plugin from ../shared/tools (or $QEMU_INSNCOUNT).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tool="${QEMU_INSNCOUNT:-$root/../shared/tools/qemu-insncount/neon-insns}"
[ -x "$tool" ] || { echo "neon-insns.sh: $tool not found (set QEMU_INSNCOUNT)" >&2; exit 2; }
bash "$root/scripts/deps.sh" cross clang
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
build() {  # build NAME COMPILER FLAGS...
  local name="$1" cxx="$2"; shift 2
  "$cxx" -std=c++17 -O2 -static "$@" -I"$root/include" "$root/bench/neon_insns.cpp" -o "$out/$name"
}
build gcc-armv8-a aarch64-linux-gnu-g++ -march=armv8-a
build gcc-armv8.2-a+fp16 aarch64-linux-gnu-g++ -march=armv8.2-a+fp16
build clang-apple-m1 clang++-19 --target=aarch64-linux-gnu -mcpu=apple-m1
# Drivers (active_kernels_b4_half_half, ...) and kernel functions (neon::affine_groups::dequantize<4, 64, ...>):
# whichever holds the work, their counts are added per kernel set, bits and types.
printf '%-20s %-8s %-5s %-14s %s\n' build kernels bits types insns/element
for name in gcc-armv8-a gcc-armv8.2-a+fp16 clang-apple-m1; do
  "$tool" --elements 65536 \
    --sym '_b[348]_|(neon::affine_groups|scalar_affine)::dequantize<(3|4|8), 64, false, (float, float|lowbit::half, lowbit::half)>' \
    "$out/$name" | grep 'insns=' | sed -E 's/\(.*\)//' |
    sed -E 's/^(active|scalar)_kernels_b([0-9])_([a-z]+)_[^\t]*/\1 \2 \3/;
            s/^void lowbit::[a-z0-9_]+::detail::neon::affine_groups::dequantize<([0-9]), 64, false, (lowbit::)?([a-z]+),[^\t]*/active \1 \3/;
            s/^void lowbit::[a-z0-9_]+::detail::scalar_affine::dequantize<([0-9]), 64, false, (lowbit::)?([a-z]+),[^\t]*/scalar \1 \3/' |
    awk -v n="$name" -F'\t' '{ split($2, a, "="); sum[$1] += a[2] }
      END { for (key in sum) { split(key, f, " "); printf "%-20s %-8s %-5s %-14s %.3f\n", n, f[1], f[2],
            f[3] "->" f[3], sum[key] / 65536 } }' | sort -k2,2 -k4,4 -k3,3n
done

# quantized_matmul (N = 256, K = 2048, 4 bits, group 64, half scales, float y): instructions per multiply-add
# (M x N x K of them), every function of the call included: the whole program run with 3 calls and with 1,
# the difference divided by 2 calls.
printf '\n%-20s %-3s %-6s %s\n' build M x insns/multiply-add
for name in gcc-armv8-a gcc-armv8.2-a+fp16 clang-apple-m1; do
  for run in "1 float" "1 half" "4 float"; do
    set -- $run
    count() { "$tool" --all "$out/$name" qmv "$1" "$2" "$3" | awk -F'\t' '/^whole program/ { sub(/insns=/, "", $2); print $2 }'; }
    one=$(count "$1" "$2" 1); three=$(count "$1" "$2" 3)
    awk -v n="$name" -v m="$1" -v x="$2" -v a="$one" -v b="$three" \
      'BEGIN { printf "%-20s %-3s %-6s %.3f\n", n, m, x, (b - a) / 2 / (m * 256 * 2048) }'
  done
done
