# llm-router Makefile. Tools are pinned and installed with `go install` into ./bin.
GO            ?= go
BIN           := $(CURDIR)/bin
GOLANGCI_VER  := v2.15.0
BUF_VER       := v1.75.0
PROTOC_GEN_GO_VER := v1.36.12
PROTOC_GEN_GO_GRPC_VER := v1.6.2
PKGS          := ./...
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       := -s -w -X github.com/llm-router/llm-router/pkg/app.Version=$(VERSION)

.PHONY: all build test test-short race cover lint proto run bench fuzz services vet fmt docs docs-check deploy-envoy clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/llm-router ./cmd/llm-router

## test: the full suite with the race detector (needs PostgreSQL and Redis on loopback;
## .ci/run starts them).
test:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -l -w $$(git ls-files '*.go')

## cover: per-package statement coverage (generated code excluded).
cover:
	@$(GO) test -count=1 -cover $$($(GO) list ./... | grep -v '/proto/') | awk '{ print }'

$(BIN)/golangci-lint:
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VER)

lint: $(BIN)/golangci-lint
	$(BIN)/golangci-lint run $(PKGS)

$(BIN)/buf:
	GOBIN=$(BIN) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VER)
$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VER)
$(BIN)/protoc-gen-go-grpc:
	GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VER)

## proto: regenerate Go from proto/ (committed).
proto: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc
	PATH=$(BIN):$$PATH $(BIN)/buf generate

run:
	$(GO) run ./cmd/llm-router run

## bench: Go benchmarks of the hot paths.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

## services: start PostgreSQL and Redis on loopback if they are not running.
services:
	bash .ci/services.sh

clean:
	rm -rf $(BIN)

## docs: regenerate docs/configuration.md from the config proto's comments.
docs:
	$(GO) run ./cmd/docgen

docs-check:
	$(GO) run ./cmd/docgen -check

## deploy-envoy: regenerate the Envoy bootstraps under deploy/ from their configs.
deploy-envoy:
	$(GO) test -count=1 ./pkg/deploytest -run TestGeneratedEnvoyFiles -update
