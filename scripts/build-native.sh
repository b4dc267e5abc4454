#!/usr/bin/env bash
# Builds hopscope-hops (probes/hops.bpf.c + probes/hops-loader.c) into build/native/, when a source is newer
# than the binary. Needs clang (BPF target), bpftool (the skeleton), gcc and libbpf-dev, libelf-dev and
# zlib1g-dev (scripts/ensure-deps.sh installs them). The BPF object is CO-RE: built once, it runs on any kernel
# with BTF, whatever kernel built it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/native
bin=$out/hopscope-hops
srcs=(probes/hops.bpf.c probes/hops-loader.c probes/hops-record.h probes/hops-kernel-types.h)
if [ -x "$bin" ] && [ -z "$(find "${srcs[@]}" -newer "$bin" -print -quit)" ]; then
  exit 0
fi
missing=()
for tool in clang bpftool gcc; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ -f /usr/include/bpf/libbpf.h ] || missing+=(libbpf-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "hopscope: cannot build hopscope-hops: missing ${missing[*]} (apt-get install -y clang bpftool gcc libbpf-dev libelf-dev zlib1g-dev)" >&2
  exit 1
fi
case "$(uname -m)" in
  x86_64) arch=x86 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac
mkdir -p "$out"
clang -g -O2 -target bpf -D__TARGET_ARCH_"$arch" -I/usr/include/"$(gcc -dumpmachine)" -Iprobes \
  -c probes/hops.bpf.c -o "$out/hops.bpf.o"
bpftool gen skeleton "$out/hops.bpf.o" name hops_bpf > "$out/hops.skel.h"
gcc -O2 -Wall -Wextra -I"$out" -Iprobes -o "$bin.tmp" probes/hops-loader.c -lbpf -lelf -lz
mv "$bin.tmp" "$bin"
echo "hopscope: built $bin" >&2
