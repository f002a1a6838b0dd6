# syntax=docker/dockerfile:1.7
# Runner for stdio MCP servers written for Python: the proxy (Node) is the entrypoint and spawns the
# server (e.g. `uvx mcp-server-time`) once per MCP session; uv fetches and caches the server's package.
# Build from the repository root: docker build -f docker/runner-python.Dockerfile -t tessera/runner-python .

FROM node:24.11.1-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --omit=dev --ignore-scripts --workspace @tessera/proxy --include-workspace-root=false \
 && rm -rf proxy/test

FROM node:24.11.1-bookworm-slim AS node

FROM python:3.13.9-slim-bookworm AS runtime
# Node for the proxy: the same binary as the build stage, copied rather than installed from apt.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN pip install --no-cache-dir uv==0.13.9 \
 && groupadd --gid 10001 tessera && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home tessera
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/api ./api
COPY --from=build /app/proxy ./proxy
ENV NODE_ENV=production TESSERA_PROXY_MODE=stdio TESSERA_PROXY_LISTEN=0.0.0.0:15001 \
    HOME=/tmp UV_CACHE_DIR=/tmp/.uv-cache UV_TOOL_DIR=/tmp/.uv-tools PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE 15001
ENTRYPOINT ["node", "proxy/src/main.ts"]
