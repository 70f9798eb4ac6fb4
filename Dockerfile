# syntax=docker/dockerfile:1.7
#
# llm-router container image: a static binary on distroless, running as non-root.
#
#   docker build -t llm-router .
#   docker run --rm -v "$PWD/examples/development.yaml:/etc/llm-router/config.yaml:ro" llm-router
#
# Multi-arch builds (CI): docker buildx build --platform linux/amd64,linux/arm64 .
# The builder runs on the build machine's platform and cross-compiles (CGO is off), so
# no emulation is needed.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so that source edits do not invalidate the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath \
      -ldflags "-s -w -X github.com/llm-router/llm-router/pkg/app.Version=${VERSION}" \
      -o /out/llm-router ./cmd/llm-router \
 && mkdir -p /out/run/llm-router /out/data

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.source="https://github.com/llm-router/llm-router" \
      org.opencontainers.image.description="LLM gateway that runs as an Envoy external processor" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/llm-router /llm-router
# The unix socket directory shared with Envoy and the SQLite directory, owned by the
# nonroot user (65532) so that a fresh volume mounted there inherits the ownership.
COPY --from=build --chown=65532:65532 /out/run/llm-router /var/run/llm-router
COPY --from=build --chown=65532:65532 /out/data /var/lib/llm-router
USER nonroot:nonroot
ENV LLM_ROUTER_CONFIG=/etc/llm-router/config.yaml
# 9090: admin HTTP (health, metrics, admin API); 50051: ext_proc gRPC when on TCP.
EXPOSE 9090 50051
# `healthcheck` probes the admin /healthz (LLM_ROUTER_ADMIN_ADDR, default 127.0.0.1:9090);
# the image has no shell or curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/llm-router", "healthcheck"]
ENTRYPOINT ["/llm-router", "serve"]
