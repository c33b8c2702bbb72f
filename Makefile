# sipbridge — see README.md
GO        ?= go
BIN       ?= bin/sipbridge
PKGS      ?= ./...

.PHONY: run test build vet fmt bench fuzz-smoke clean

## run: serve the API on the embedded SQLite database (./var), with a generated dev SECRET_KEY,
## allowing loopback addresses (an assistant or SMS webhook on 127.0.0.1); override with ALLOW_LOOPBACK_ADDRESSES=false
run: build
	ALLOW_LOOPBACK_ADDRESSES=$${ALLOW_LOOPBACK_ADDRESSES:-true} $(BIN) serve

## test: start PostgreSQL if needed (scripts/with-postgres.sh) and run every test with the race detector
test:
	./scripts/with-postgres.sh $(GO) test -race -count=1 $(PKGS)

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/sipbridge

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

## bench: the benchmarks recorded in BENCHMARKS.md
bench:
	./scripts/with-postgres.sh $(GO) test -run='^$$' -bench=. -benchmem $(PKGS)

clean:
	rm -rf bin
