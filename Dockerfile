# syntax=docker/dockerfile:1
#
# Bankbridge: one static binary (pure Go: the SQLite driver is
# github.com/glebarez/sqlite on modernc.org/sqlite, no cgo) on distroless
# static (CA certificates, tzdata, /etc/passwd with the nonroot user; no
# shell, no package manager), running as nonroot (uid 65532).
#
#   docker build -t bankbridge .
#   docker run --rm bankbridge version
#
# `bankbridge version` reports the commit from the VCS stamp the go command
# embeds when the build context holds the repository's .git directory (a
# git worktree's .git is a file: build with --build-arg BUILDVCS=false).
#
# Health: the image has no shell and no curl, so it declares no HEALTHCHECK.
# Let the orchestrator probe HTTP instead: GET /healthz (liveness: the
# process answers) and GET /readyz (readiness: 200 when the database, and
# Redis when configured, answer; 503 otherwise), e.g. the proxy's active
# health check in deploy/Caddyfile, or a Kubernetes httpGet probe.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
# The SQLite driver go.mod replaces with its copy here (third_party/go-sqlite).
COPY third_party/ third_party/
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG BUILDVCS=auto
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOFLAGS=-buildvcs=${BUILDVCS} \
    go build -trimpath -ldflags='-s -w' -o /out/bankbridge ./cmd/bankbridge
# The data directory (SQLite, and in development the generated key files),
# owned by nonroot so that a fresh named volume inherits it.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bankbridge /usr/local/bin/bankbridge
COPY --from=build --chown=65532:65532 /out/data /var/lib/bankbridge
USER nonroot:nonroot
WORKDIR /var/lib/bankbridge
# Listen on every interface inside the container (the binary's default is
# 127.0.0.1:8080, unreachable from outside it); keep the data in the volume.
ENV BANKBRIDGE_ADDR=0.0.0.0:8080 \
    BANKBRIDGE_DATA_DIR=/var/lib/bankbridge
VOLUME ["/var/lib/bankbridge"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/bankbridge"]
CMD ["serve"]
