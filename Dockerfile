# hopscope agent image: Node.js 20 + bpftrace from Debian. Runs privileged with hostNetwork/hostPID as a
# DaemonSet (agent/deploy/); needs the host's /sys/kernel/btf and /sys/kernel/tracing.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY agent ./agent
COPY probes ./probes
COPY bin ./bin
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends bpftrace iproute2 util-linux ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/probes ./probes
COPY --from=build /app/src/web ./src/web
COPY --from=build /app/package.json ./package.json
EXPOSE 9940
ENTRYPOINT ["node", "/app/bin/hopscope.js"]
# the DaemonSet passes: agent --node $(NODE_NAME) ...; alone, the image says what the node supports
CMD ["doctor"]
