# Porthouse build and test entry points. `make help` lists the targets.

GO        ?= go
BIN       ?= bin/porthouse
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   ?= -X main.version=$(VERSION)
ARGS      ?=
# RACE_PKGS are the packages tested with the race detector (all of them).
RACE_PKGS ?= ./...
TEST_TIMEOUT ?= 12m
# FUZZTIME is how long each fuzz target runs under `make fuzz`.
FUZZTIME  ?= 20s

# Pinned code generators for `make proto` (protoc-gen-go matches the
# google.golang.org/protobuf version in go.mod); protoc itself comes from
# Debian's protobuf-compiler package.
PROTOC_GEN_GO_VERSION      ?= v1.36.12
PROTOC_GEN_GO_GRPC_VERSION ?= v1.6.2
GOBIN_DIR  := $(CURDIR)/bin/tools
PROTO_DIR  := proto
PROTO_FILES := $(shell find $(PROTO_DIR) -name '*.proto' 2>/dev/null)

.PHONY: all help build run test test-deps vet bench proto lint fuzz clean

all: build

help:
	@echo "make build   build $(BIN) (version $(VERSION))"
	@echo "make run     build, then $(BIN) run \$$(ARGS)"
	@echo "make test    install test dependencies, go vet, go test -race"
	@echo "make bench   run every benchmark"
	@echo "make proto   regenerate Go code from proto/*.proto"
	@echo "make lint    gofmt check and go vet"
	@echo "make fuzz    run every fuzz target for \$$(FUZZTIME)"
	@echo "make clean   remove build output"

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/porthouse

run: build
	./$(BIN) run $(ARGS)

test-deps:
	./scripts/test-deps.sh

vet:
	$(GO) vet ./...

# test runs every package under the race detector, then the end-to-end suite
# again against `supervise -workers 2` (the same tests, both process modes).
test: test-deps vet
	$(GO) test -race -timeout $(TEST_TIMEOUT) $(RACE_PKGS)
	PORTHOUSE_TEST_MODE=supervise $(GO) test -race -timeout $(TEST_TIMEOUT) ./e2e/ ./client/
	# Allocation counts are only exact without the race detector.
	$(GO) test -count=1 -run 'Alloc' ./router/ ./mesh/

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

proto:
ifeq ($(strip $(PROTO_FILES)),)
	@echo "no .proto files yet"
else
	@command -v protoc >/dev/null 2>&1 || { \
		echo "protoc missing: apt-get install -y protobuf-compiler" >&2; exit 1; }
	GOBIN=$(GOBIN_DIR) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(GOBIN_DIR) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	PATH="$(GOBIN_DIR):$$PATH" protoc -I $(PROTO_DIR) \
		--go_out=$(PROTO_DIR) --go_opt=paths=source_relative \
		--go-grpc_out=$(PROTO_DIR) --go-grpc_opt=paths=source_relative \
		$(patsubst $(PROTO_DIR)/%,%,$(PROTO_FILES))
endif

lint: vet
	@out="$$(gofmt -l .)"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# fuzz runs each Fuzz* target of each package for $(FUZZTIME); go test allows
# one fuzz target per run, hence the loops.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

clean:
	rm -rf bin
