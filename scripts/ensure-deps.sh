#!/usr/bin/env bash
# Installs what a fresh machine lacks for hopscope's tests, demo and benchmark (run by `npm test`,
# `npm run demo` and `npm run bench`, and by .ci/run): Debian packages (chromium for the web view's browser
# test, iperf3 for the benchmark, clang and libbpf for the native probes), tracefs, npm dependencies, the
# build (the native probes included).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v bpftrace >/dev/null || need+=(bpftrace)
command -v bpftool >/dev/null || need+=(bpftool)
command -v ip >/dev/null || need+=(iproute2)
command -v bridge >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v setpriv >/dev/null || need+=(util-linux)
command -v python3 >/dev/null || need+=(python3) # the lab's delay forwarder (lab up --delay-ms)
command -v nft >/dev/null || need+=(nftables) # the lab's Services (lab up --services): kube-proxy-style rules in node namespaces
command -v prometheus >/dev/null || need+=(prometheus)
command -v promtool >/dev/null || need+=(prometheus)
command -v chromium >/dev/null || need+=(chromium)
command -v iperf3 >/dev/null || need+=(iperf3) # npm run bench: packet-path cost
# the native probes (scripts/build-native.sh): clang for the BPF objects, gcc and libbpf for their loaders
command -v clang >/dev/null || need+=(clang)
command -v gcc >/dev/null || need+=(gcc)
[ -f /usr/include/bpf/libbpf.h ] || need+=(libbpf-dev)
[ -f /usr/include/libelf.h ] || need+=(libelf-dev)
[ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "hopscope: missing ${need[*]}; run as root (or: sudo apt-get install -y ${need[*]})" >&2
    exit 1
  fi
  echo "hopscope: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 || {
    apt-get update >/dev/null 2>&1
    apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
  }
fi

# bpftrace needs tracefs for tracepoints; some machines boot without it mounted
if [ "$(id -u)" = 0 ] && [ ! -d /sys/kernel/tracing/events ]; then
  mount -t tracefs nodev /sys/kernel/tracing
fi

# npm records what it installed in node_modules/.package-lock.json: install when that is missing or older
# than the lockfile (a fresh clone, or dependencies changed since)
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund
fi
bash scripts/build-native.sh --require
if [ ! -f dist/src/cli/main.js ] || [ -n "$(find src agent -newer dist/src/cli/main.js -name '*.ts' -print -quit)" ]; then
  npm run --silent build
fi
