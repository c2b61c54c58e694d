# The SIP edge of one MCPTT system (edge/main.ts), as deployed on ECS Fargate (lib/sip-edge-service.ts).
# Built by `cdk deploy` from the staged context (.dockerignore keeps it to what the edge needs).

# --- build: install the locked dependencies, bundle the edge into one file ---------------------------
FROM node:22-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: the bundle needs no native module (esbuild's own binary is an optional dependency).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY lib/ lib/
COPY edge/ edge/
COPY sip/ sip/
COPY core/ core/
COPY adapters/ adapters/
COPY scripts/build-edge.ts scripts/
RUN npx tsx scripts/build-edge.ts dist/edge.mjs

# --- run: Node.js and the bundle only, as an unprivileged user -------------------------------------
FROM node:22-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /src/dist/edge.mjs /src/dist/edge.mjs.map ./
USER node
# SIP over UDP and TCP, the edge control API, the health endpoint.
EXPOSE 5060/udp 5060/tcp 8061/tcp 8062/tcp
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HEALTH_PORT || 8062) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
# The flags are EDGE_NODE_FLAGS of lib/edge-config.ts (a test keeps them equal).
CMD ["node", "--enable-source-maps", "--max-semi-space-size=32", "--heap-growing-percent=10", "edge.mjs"]
