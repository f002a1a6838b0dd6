# syntax=docker/dockerfile:1.7
# The control plane (public API :8080, mesh API :15010, MCPServer controller). The injector runs from
# the same image with `node injector/src/main.ts` (the chart sets the command).
# Build from the repository root: docker build -f docker/control-plane.Dockerfile -t tessera/control-plane .

FROM node:24.11.1-bookworm-slim AS build
WORKDIR /app
COPY . .
# The embedded PostgreSQL is for one machine; in a cluster DATABASE_URL points at a real one, so its
# platform binaries (optional dependencies with install scripts) are left out.
RUN npm ci --omit=dev --omit=optional --ignore-scripts \
 && rm -rf bench e2e proxy/test control-plane/test

FROM gcr.io/distroless/nodejs24-debian12:nonroot AS runtime
WORKDIR /app
COPY --from=build /app /app
ENV NODE_ENV=production TESSERA_HOST=0.0.0.0 TESSERA_MESH_HOST=0.0.0.0 \
    TESSERA_DATA_DIR=/var/lib/tessera TESSERA_LOCAL_PROXIES=false TESSERA_DEMO_SERVER=false
USER 65532:65532
EXPOSE 8080 15010
ENTRYPOINT ["/nodejs/bin/node"]
CMD ["control-plane/src/cli/tessera.ts", "start"]
