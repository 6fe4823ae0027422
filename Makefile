# Communs: the two commands a hub needs are `make run` and `make test`.

GO        ?= go
GOBIN     := $(shell $(GO) env GOPATH)/bin
MINIO_VER := v0.0.0-20260212201848-7aac2a2c5b7c
MINIO     := $(GOBIN)/minio
TEST_TIMEOUT ?= 40m
# Browser tests: Debian's chromium and a pinned axe-core from npm (keep
# AXE_VER equal to browsertest.AxeVersion).
CHROMIUM  := /usr/bin/chromium
AXE_VER   := 4.14.1
AXE_DIR   := $(shell $(GO) env GOPATH)/communs-test/axe-$(AXE_VER)
AXE       := $(AXE_DIR)/node_modules/axe-core/axe.min.js
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# deploy/ tests: systemd-analyze checks the unit, caddy adapts the Caddyfile.
SYSTEMD_ANALYZE := /usr/bin/systemd-analyze
CADDY     := /usr/bin/caddy
# oaipmh/ tests: xmllint validates every /oai answer against the OAI-PMH schemas.
XMLLINT   := /usr/bin/xmllint
# staticcheck: pinned so CI and a laptop report the same findings.
STATICCHECK_VER := v0.6.1
STATICCHECK     := $(GOBIN)/staticcheck

.PHONY: run build test test-deps bench demo vet fmt clean interop

## run: start a node on embedded defaults (http://localhost:8080, ./communs-data)
run:
	$(GO) run ./cmd/communs serve

## build: build the communs binary into ./bin
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/communs ./cmd/communs

## test-deps: install what the tests drive for real (MinIO server, Chromium, axe-core, xmllint)
test-deps: $(MINIO) $(CHROMIUM) $(AXE) $(SYSTEMD_ANALYZE) $(CADDY) $(XMLLINT) staticcheck-pinned

$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests..."
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-dejavu-core >/dev/null

$(SYSTEMD_ANALYZE):
	@echo "Installing Debian's systemd for systemd-analyze (deploy/ tests)..."
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq systemd >/dev/null

$(CADDY):
	@echo "Installing Debian's caddy for the Caddyfile check (deploy/ tests)..."
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq caddy >/dev/null

$(XMLLINT):
	@echo "Installing Debian's libxml2-utils for xmllint (OAI-PMH schema validation)..."
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libxml2-utils >/dev/null

$(AXE):
	@echo "Installing axe-core $(AXE_VER) for the accessibility tests..."
	npm install --silent --no-audit --no-fund --prefix $(AXE_DIR) axe-core@$(AXE_VER)

# staticcheck-pinned reinstalls staticcheck when the binary is not the pinned
# version (a bare file target would keep an old one forever).
.PHONY: staticcheck-pinned
staticcheck-pinned:
	@$(STATICCHECK) -version 2>/dev/null | grep -qF '($(STATICCHECK_VER:v%=%))' || \
		{ echo "Installing staticcheck $(STATICCHECK_VER)..."; $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VER); }

$(MINIO):
	@echo "Installing MinIO $(MINIO_VER) for the S3 tests (about 3 minutes the first time)..."
	$(GO) install github.com/minio/minio@$(MINIO_VER)

## test: install test dependencies, vet, staticcheck, run every test (MinIO tests included)
## under the race detector, in one run (needs cgo): 3m39s vs 2m34s without -race on a 2-core machine
## (13 min when that machine was heavily loaded), far inside CI's 90 minutes
test: test-deps
	$(GO) vet ./...
	$(STATICCHECK) ./...
	COMMUNS_MINIO_BIN=$(MINIO) COMMUNS_CHROMIUM=$(CHROMIUM) COMMUNS_AXE=$(AXE) COMMUNS_BROWSER_TESTS=1 $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

## interop: opt-in, slow: a real GoToSocial follows a hub and must show its kits as plain
## posts (internal/interop, docs/INTEROP.md). Builds GoToSocial $(GTS_VER) once from the Go
## module proxy into $(GTS_DIR) (10+ minutes on a 2-core machine), nothing in the repository.
GTS_VER := v0.18.3
GTS_DIR := $(shell $(GO) env GOPATH)/communs-test/gotosocial-$(GTS_VER:v%=%)
interop:
	GO=$(GO) sh internal/interop/build-gotosocial.sh $(GTS_VER) $(GTS_DIR)
	COMMUNS_INTEROP=1 COMMUNS_GOTOSOCIAL_DIR=$(GTS_DIR) $(GO) test -count=1 -v -timeout 20m -run TestGoToSocial ./internal/interop/

## bench: benchmarks (see docs/BENCHMARKS.md for what each measures)
bench: test-deps
	COMMUNS_MINIO_BIN=$(MINIO) $(GO) test -run '^$$' -bench . -benchtime=1x -timeout 60m ./...

## demo: import the demo corpus (internal/corpus/data, in the repository) into ./communs-data
demo:
	$(GO) build -o bin/communs ./cmd/communs
	rm -rf bin/demo-kits
	$(GO) run ./internal/corpus/writekits bin/demo-kits
	./bin/communs resource import bin/demo-kits
	@echo
	@echo "Demo imported into ./communs-data. Start the node with 'make run', then open http://localhost:8080/"

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
