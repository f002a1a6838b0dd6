# syntax=docker/dockerfile:1.7
# The proxy: sidecar (injected beside HTTP MCP servers) and egress (remote MCP servers).
# Build from the repository root: docker build -f docker/proxy.Dockerfile -t tessera/proxy .

FROM node:24.11.1-bookworm-slim AS build
WORKDIR /app
COPY . .
# Production dependencies of the proxy only; no install scripts run.
RUN npm ci --omit=dev --ignore-scripts --workspace @tessera/proxy --include-workspace-root=false \
 && rm -rf proxy/test && find proxy api -name '*.test.ts' -delete

# Distroless: Node and nothing else (no shell, no package manager).
FROM gcr.io/distroless/nodejs24-debian12:nonroot AS runtime
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/api ./api
COPY --from=build /app/proxy ./proxy
ENV NODE_ENV=production TESSERA_PROXY_LISTEN=0.0.0.0:15001
USER 65532:65532
EXPOSE 15001
ENTRYPOINT ["/nodejs/bin/node", "proxy/src/main.ts"]
