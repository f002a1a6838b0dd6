# syntax=docker/dockerfile:1.7
# Runner for stdio MCP servers written for Node: the proxy in stdio mode is the entrypoint and spawns
# the server (e.g. `npx -y @modelcontextprotocol/server-everything`) once per MCP session. It keeps npm
# and npx, which the servers need, so it starts from the slim Node image rather than distroless.
# Build from the repository root: docker build -f docker/runner-node.Dockerfile -t tessera/runner-node .

FROM node:24.11.1-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --omit=dev --ignore-scripts --workspace @tessera/proxy --include-workspace-root=false \
 && rm -rf proxy/test

FROM node:24.11.1-bookworm-slim AS runtime
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/api ./api
COPY --from=build /app/proxy ./proxy
# Caches of npx live under a writable emptyDir (/tmp), not the image.
ENV NODE_ENV=production TESSERA_PROXY_MODE=stdio TESSERA_PROXY_LISTEN=0.0.0.0:15001 \
    HOME=/tmp NPM_CONFIG_CACHE=/tmp/.npm NPM_CONFIG_UPDATE_NOTIFIER=false
# The image's "node" user (uid 1000), never root.
USER 1000:1000
EXPOSE 15001
ENTRYPOINT ["node", "proxy/src/main.ts"]
