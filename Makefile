# sipbridge — see README.md
GO        ?= go
BIN       ?= bin/sipbridge
PKGS      ?= ./...

.PHONY: run test e2e soak build vet fmt bench fuzz-smoke clean

## run: serve the API on the embedded SQLite database (./var), with a generated dev SECRET_KEY,
## allowing loopback addresses (an assistant or SMS webhook on 127.0.0.1); override with ALLOW_LOOPBACK_ADDRESSES=false
run: build
	ALLOW_LOOPBACK_ADDRESSES=$${ALLOW_LOOPBACK_ADDRESSES:-true} $(BIN) serve

UNIT      = $(shell $(GO) list $(PKGS) | grep -v -e /e2e -e /console)

## test: start PostgreSQL if needed (scripts/with-postgres.sh), run every package's tests with the
## race detector, then the console's (its browser test runs Chromium, which takes both cores: beside
## the packages that time real-time audio it would make them late), then the real-switch
## end-to-end suite alone (real-time audio on 2 cores: it drives a normal sipbridge build, and the
## race detector would only slow its own test peers)
## RACE: the race detector for our code and the libraries, but not inside the embedded SQLite
## engine (modernc.org/*: C translated to Go, every memory access of a query instrumented, 30 times
## slower, 2.4 times over a whole gorm query); our code's use of it is still checked
RACE      = -race -gcflags='modernc.org/...=-race=false'
## UNITP: packages tested at once. Most package tests wait on timers, sockets and real-time audio
## rather than compute: with 3 at a time on 2 cores the machine is still half idle (3 min 56 s of
## wall for 3 min 41 s of CPU), against 5 min 47 s for the default 2
UNITP     ?= 3
test:
	./scripts/with-postgres.sh $(GO) test -p $(UNITP) $(RACE) -count=1 $(UNIT)
	./scripts/with-postgres.sh $(GO) test $(RACE) -count=1 ./console/...
	./scripts/with-postgres.sh $(GO) test -count=1 -timeout 20m ./e2e/...

## e2e: the end-to-end suite only: the real FreeSWITCH (../shared/freeswitch) and sipp, on SQLite and PostgreSQL
e2e:
	./scripts/with-postgres.sh $(GO) test -count=1 -timeout 20m ./e2e/...

## soak: the soak test on PostgreSQL and the real switch (e2e/soak_test.go): steady calls with
## audio, a trunk change a minute, SMS and API traffic for SOAK_DURATION, then checks that nothing
## leaked and logs a soak-summary line. An hour: make soak SOAK_DURATION=1h SOAK_TIMEOUT=90m
SOAK_DURATION ?= 5m
SOAK_TIMEOUT  ?= 20m
soak:
	SOAK_DURATION=$(SOAK_DURATION) ./scripts/with-postgres.sh $(GO) test -count=1 -v -timeout $(SOAK_TIMEOUT) -run '^TestSoak$$' ./e2e/

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
