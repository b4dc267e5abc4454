#!/usr/bin/env bash
# Builds the native probes into build/native/: hopscope-hops (probes/hops.bpf.c + hops-loader.c) and
# hopscope-drops (probes/drops.bpf.c + drops-loader.c), each when a source is newer than its binary. Needs clang
# (BPF target), bpftool (the skeleton), gcc, and libbpf-dev, libelf-dev and zlib1g-dev (scripts/ensure-deps.sh
# installs them). The BPF objects are CO-RE: built once, they run on any kernel with BTF, whatever kernel built
# them. Without the tools it warns and builds nothing (the agent then runs the bpftrace scripts), unless given
# --require (scripts/ensure-deps.sh, the image), where it fails.
set -euo pipefail
require=0
[ "${1:-}" = --require ] && require=1
cd "$(dirname "$0")/.."
out=build/native
common=(probes/*.h scripts/build-native.sh)
stale=()
for probe in hops drops; do
  bin=$out/hopscope-$probe
  if [ ! -x "$bin" ] || [ -n "$(find "${common[@]}" "probes/$probe.bpf.c" "probes/$probe-loader.c" -newer "$bin" -print -quit)" ]; then
    stale+=("$probe")
  fi
done
[ ${#stale[@]} -eq 0 ] && exit 0
missing=()
for tool in clang gcc; do command -v "$tool" >/dev/null || missing+=("$tool"); done
# Ubuntu's bpftool is a wrapper that fails without the kernel's linux-tools: run it, do not just find it
bpftool version >/dev/null 2>&1 || missing+=(bpftool)
echo '#include <bpf/libbpf.h>' | gcc -E -x c - >/dev/null 2>&1 || missing+=(libbpf-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "hopscope: cannot build the native probes: missing ${missing[*]} (apt-get install -y clang bpftool gcc libbpf-dev libelf-dev zlib1g-dev); the agent will run the bpftrace scripts" >&2
  exit $((require))
fi
case "$(uname -m)" in
  x86_64) arch=x86 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac
mkdir -p "$out"
for probe in "${stale[@]}"; do
  clang -g -O2 -Wall -target bpf -D__TARGET_ARCH_"$arch" -I/usr/include/"$(gcc -dumpmachine)" -Iprobes \
    -c "probes/$probe.bpf.c" -o "$out/$probe.bpf.o"
  bpftool gen skeleton "$out/$probe.bpf.o" name "${probe}_bpf" > "$out/$probe.skel.h"
  gcc -O2 -Wall -Wextra -I"$out" -Iprobes -o "$out/hopscope-$probe.tmp" "probes/$probe-loader.c" -lbpf -lelf -lz
  mv "$out/hopscope-$probe.tmp" "$out/hopscope-$probe"
  echo "hopscope: built $out/hopscope-$probe" >&2
done
