# Communs: the two commands a hub needs are `make run` and `make test`.

GO        ?= go
GOBIN     := $(shell $(GO) env GOPATH)/bin
MINIO_VER := v0.0.0-20260212201848-7aac2a2c5b7c
MINIO     := $(GOBIN)/minio
TEST_TIMEOUT ?= 40m

.PHONY: run build test test-deps bench demo vet fmt clean

## run: start a node on embedded defaults (http://localhost:8080, ./communs-data)
run:
	$(GO) run ./cmd/communs serve

## build: build the communs binary into ./bin
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/communs ./cmd/communs

## test-deps: install what the tests drive for real (MinIO server)
test-deps: $(MINIO)

$(MINIO):
	@echo "Installing MinIO $(MINIO_VER) for the S3 tests (about 3 minutes the first time)..."
	$(GO) install github.com/minio/minio@$(MINIO_VER)

## test: install test dependencies, vet, run every test (MinIO tests included)
test: test-deps
	$(GO) vet ./...
	COMMUNS_MINIO_BIN=$(MINIO) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

## bench: benchmarks (see docs/BENCHMARKS.md for what each measures)
bench: test-deps
	COMMUNS_MINIO_BIN=$(MINIO) $(GO) test -run '^$$' -bench . -benchtime=1x -timeout 60m ./...

## demo: import the shared demo corpus (../shared/data) into ./communs-data
demo:
	rm -rf /tmp/communs-demo-kits
	$(GO) run ./internal/corpus/writekits /tmp/communs-demo-kits
	$(GO) run ./cmd/communs resource import /tmp/communs-demo-kits

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
