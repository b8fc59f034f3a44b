# One image for every Lethe service (gateway, keyring, processor, writer, api, simulator) and the
# one-shot scripts (influx-init). Node 24 strips TypeScript types at run time, so there is
# no build step: the image holds the sources and the installed dependencies.
#
#   docker build --build-arg SERVICE=gateway -t lethe .
#   docker run -e SERVICE=writer lethe      # SERVICE can also be chosen at run time
#
# No `# syntax=` line: it makes BuildKit fetch a Dockerfile frontend image from Docker Hub before
# building, and nothing here needs more than the frontend built into BuildKit (RUN --mount has
# been part of it since Docker 20.10), so the image also builds where no registry is reachable.
# Production dependencies only: the runtime carries no compiler, test runner or linter.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# ---- dependencies + sources -------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
ENV CI=true \
    PNPM_HOME=/pnpm \
    PATH=/pnpm:$PATH
RUN npm install --global --no-audit --no-fund pnpm@10.34.9
WORKDIR /app

# Manifests first, so the dependency layer is cached until a manifest or the lockfile changes.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
# pnpm applies patches/ at install (kafkajs's send path: exactly once across a leader failover).
COPY patches patches
COPY packages/audit/package.json packages/audit/
COPY packages/config/package.json packages/config/
COPY packages/kafka/package.json packages/kafka/
COPY packages/observability/package.json packages/observability/
COPY packages/privacy/package.json packages/privacy/
COPY packages/schemas/package.json packages/schemas/
COPY services/api/package.json services/api/
COPY services/gateway/package.json services/gateway/
COPY services/keyring/package.json services/keyring/
COPY services/processor/package.json services/processor/
COPY services/simulator/package.json services/simulator/
COPY services/writer/package.json services/writer/
# Only the services above (not the cli, demo, tests or benchmarks) and their production
# dependencies; pnpm accepts a lockfile that also describes workspace projects left out.
RUN --mount=type=cache,id=lethe-pnpm-store,target=/pnpm/store \
    pnpm config set store-dir /pnpm/store && \
    pnpm install --frozen-lockfile --prod
# scripts/ (influx-init) resolves @lethe/* through the root's devDependencies, which a
# production install leaves out: link the workspace packages in their place (each resolves its
# own dependencies from its own node_modules).
RUN mkdir -p node_modules/@lethe && \
    for p in packages/*; do ln -s "../../$p" "node_modules/@lethe/${p#packages/}"; done

COPY tsconfig.base.json ./
COPY seeds seeds
COPY packages packages
COPY scripts scripts
COPY services services
COPY docs/openapi.yaml docs/
COPY infra/node-runtime.env infra/
# Fails the build, not the first start, if a script's imports do not resolve.
RUN node --input-type=module -e "await import('@lethe/privacy'); await import('@lethe/config'); await import('@lethe/schemas')"

# ---- runtime ----------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG SERVICE=gateway
ENV NODE_ENV=production \
    SERVICE=${SERVICE}
WORKDIR /app
# The code is owned by root and only readable by the service user. /tokens is the mount point
# of the influx-tokens volume: a new named volume takes this directory's owner, so the
# influx-init job (running as node) can write the tokens there; likewise the api's audit-log
# volume at /var/lib/lethe/audit.
COPY --from=build /app /app
RUN mkdir -p /tokens /var/lib/lethe/audit && chown node:node /tokens /var/lib/lethe/audit
USER node
EXPOSE 9464 8080
STOPSIGNAL SIGTERM
# exec: node becomes PID 1's only child-free process and receives SIGTERM directly. The V8 and
# malloc settings every service runs with come from infra/node-runtime.env (it says why).
CMD ["/bin/sh", "-c", "set -a && . ./infra/node-runtime.env && set +a && exec node \"services/${SERVICE}/src/main.ts\""]
