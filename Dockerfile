# hopscope agent image: Node.js 20 + Debian bookworm's bpftrace (0.17.0, the version the kernel tests run).
# Runs as the DaemonSet in agent/deploy/ (docs/deploy.md): not privileged, with CAP_BPF, CAP_PERFMON,
# CAP_SYS_ADMIN and CAP_SYS_RESOURCE, and the host's /sys/kernel/tracing and /sys/kernel/btf mounted read-only.
# Alone, `docker run IMAGE` runs `hopscope doctor`: what this node supports.
# Checked statically by test/unit/dockerfile.test.ts (no Docker engine where the tests run).

# ---- build: compile TypeScript to dist/, keep only production dependencies ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# dependencies in their own layer, reused while only the sources change; no dependency needs its install script
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY src ./src
COPY agent ./agent
# the agent's part of the build (what `npm install` runs as prepare); dashboards are not part of the image
RUN npx --no-install tsc -p tsconfig.build.json \
 && npm prune --omit=dev --no-audit --no-fund --ignore-scripts
# the native probes, build/native/hopscope-hops and hopscope-drops (docs/architecture.md, "Native probes"): clang compiles the BPF
# objects (CO-RE: they run on any node kernel with BTF, whatever this machine runs), bpftool makes their skeletons,
# gcc links the loaders against libbpf
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang bpftool gcc libc6-dev libbpf-dev libelf-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
COPY probes ./probes
COPY scripts/build-native.sh ./scripts/build-native.sh
RUN bash scripts/build-native.sh --require

# ---- runtime ----
FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="hopscope" \
      org.opencontainers.image.description="Per-node agent tracing packets hop by hop through a Kubernetes node (pod, veth, cni0, routing, uplink) with bpftrace" \
      org.opencontainers.image.source="https://github.com/hopscope/hopscope" \
      org.opencontainers.image.url="https://github.com/hopscope/hopscope" \
      org.opencontainers.image.documentation="https://github.com/hopscope/hopscope/blob/main/docs/deploy.md" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="hopscope" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"
# bpftrace: the probes; iproute2: ip and bridge (interfaces, netns ids, the FDB); util-linux: setpriv, which
# ties each bpftrace child to the agent's life (--pdeathsig); ca-certificates: TLS to the API server; bpftool:
# the names of the agent's BPF programs for hopscope_bpf_* (its own kernel cost); libbpf1, libelf1: what the
# native probes link against.
# Nothing of apt's cache stays in the layer.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends bpftrace bpftool iproute2 util-linux ca-certificates libbpf1 libelf1 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*
# the same Node.js the build used (node:20-bookworm-slim is built on this Debian release)
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/build/native ./build/native
COPY bin ./bin
COPY probes ./probes
COPY src/web ./src/web
EXPOSE 9940
# no curl in the image: Node's own fetch. The agent's /healthz answers once the process is up.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9940/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/hopscope.js"]
# the DaemonSet passes: agent --node $(NODE_NAME) --kubernetes ...
CMD ["doctor"]
