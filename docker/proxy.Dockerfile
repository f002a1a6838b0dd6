# syntax=docker/dockerfile:1.7
# The proxy: sidecar (injected beside HTTP MCP servers) and egress (remote MCP servers).
# Build from the repository root: docker build -f docker/proxy.Dockerfile -t tessera/proxy .

FROM node:24.11.1-bookworm-slim AS build
WORKDIR /app
COPY . .
# Production dependencies of the proxy only; no install scripts run.
RUN npm ci --omit=dev --ignore-scripts --workspace @tessera/proxy --include-workspace-root=false \
 && rm -rf proxy/test && find proxy api -name '*.test.ts' -delete
# Node's compile cache, warmed here: without settings the proxy stops at its bootstrap check after
# compiling every module, so a started proxy neither strips types nor maps the stripper (~12 MB).
# Node uses the cache only when its version matches this stage's: pin both to the same release.
# The modules loaded only on demand (CEL, egress, filters) are compiled by the warm-up script.
RUN (NODE_COMPILE_CACHE=/app/.compile-cache node proxy/src/main.ts || test -d /app/.compile-cache) \
 && NODE_COMPILE_CACHE=/app/.compile-cache node proxy/src/compile-cache-warmup.ts

# Distroless: Node and nothing else (no shell, no package manager).
FROM gcr.io/distroless/nodejs24-debian12:nonroot AS runtime
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/api ./api
COPY --from=build /app/proxy ./proxy
COPY --from=build /app/.compile-cache ./.compile-cache
ENV NODE_ENV=production TESSERA_PROXY_LISTEN=0.0.0.0:15001 NODE_COMPILE_CACHE=/app/.compile-cache
# glibc would keep what V8's background compiler frees in its threads' arenas (10-17 MB per sidecar);
# blocks of 8 KiB and up get mappings of their own and go back to the kernel when freed, for a few
# per cent of CPU under load (README, benchmark notes). 131072 restores glibc's starting threshold.
ENV MALLOC_MMAP_THRESHOLD_=8192
USER 65532:65532
EXPOSE 15001
# Small semi-spaces: a sidecar runs beside every server, so it trades GC work for memory (1 MB
# against 2 MB: about 1.2 MB less private memory at 1000 req/s, a few per cent more CPU; README).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=1", "proxy/src/main.ts"]
