# syntax=docker/dockerfile:1
# One image for every service; the service is chosen at start (deploy/docker/entrypoint.sh):
#   docker build -t dmarc-platform:0.1.0 .
#   docker run --rm -e DATABASE_URL=... -e KAFKA_BROKERS=... -e REDIS_URL=... -p 8081:8080 dmarc-platform:0.1.0 ingestion
#   docker run --rm -e DATABASE_URL=... dmarc-platform:0.1.0 dmarc db migrate
# docker-compose.yml and the Helm chart (deploy/helm/dmarc-platform) run it exactly so.
ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------- manifests
# Only package.json files and the lockfile, at their places: the dependency layer below is then rebuilt
# only when they change, not on every source edit.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir /manifests \
 && find . -name node_modules -prune -o \( -name package.json -o -name package-lock.json \) -print \
    | xargs cp --parents -t /manifests

# ---------------------------------------------------------------- deps
# npm ci from the lockfile, runtime dependencies only (no jest, nx, typescript): the workspaces
# (libs/*, services/*) become links under node_modules/@dmarc/, resolved once the sources are copied in.
# esbuild, which compiles the `dmarc` command at start, is a runtime dependency (through tsx).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY --from=manifests /manifests/ ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---------------------------------------------------------------- runtime
FROM ${NODE_IMAGE} AS runtime
# In a container the HTTP server must listen beyond loopback (the service default is 127.0.0.1).
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
WORKDIR /app
# Code and dependencies belong to root, read-only for the service user.
COPY --from=deps /app/ ./
COPY . .
# The services run the TypeScript sources compiled into one file by services/cli/bin/cli-bundle.js, kept
# under dist/dmarc-cli/ and rebuilt at start whenever a source differs from what it was built from (file
# stamps: a layer unpacked on another host differs, so expect one ~0.5 s build at start there). Compiled
# here once as well: a broken import fails the image build, not the first pod. dist/ is the one place the
# service user writes (the chart mounts an emptyDir there when the root filesystem is read-only).
RUN mkdir -p dist && chown node:node dist && chmod 0755 deploy/docker/entrypoint.sh
USER node
RUN node services/cli/bin/cli-bundle.js
EXPOSE 8080
# Ready, not merely alive: /readyz answers 200 once Kafka, Redis and PostgreSQL are reachable. Node's fetch:
# the slim image has neither curl nor wget.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/app/deploy/docker/entrypoint.sh"]
