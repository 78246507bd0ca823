# wagate: make run starts the gateway on the embedded database; make test runs every test CI runs.
GO        ?= go
BIN       := bin
PKGS      := ./...
TESTFLAGS ?= -race -count=1 -timeout 30m

.PHONY: all build run test fuzz lint generate generate-check bench bench-go bench-socketio bench-devices clean docs-assets console-assets

all: build

build:
	$(GO) build -buildvcs=true -o $(BIN)/wagate ./cmd/wagate  # the commit, for wagate version
	$(GO) build -o $(BIN)/wasim ./cmd/wasim

run: build
	./$(BIN)/wagate

# Unit, integration (PostgreSQL on 127.0.0.1:5432) and end-to-end tests, plus the checks
# that keep generated code and formatting honest.
test: generate-check lint test/js/node_modules
	$(GO) test $(TESTFLAGS) $(PKGS)
	@$(MAKE) --no-print-directory fuzz

# Each fuzz target for FUZZTIME, one after the other (go test fuzzes one package at a time),
# with one worker: a short run that catches regressions, not a fuzzing campaign. A count of
# executions, not a duration: Go 1.26's fuzz coordinator can fail a duration-bound run with
# "context deadline exceeded" at its end on a busy machine (go.dev/issue/75804, fixed in
# 1.27). For a longer run: make fuzz FUZZTIME=10000000x (or a duration, such as 10m).
FUZZTIME ?= 30000x
FUZZ     := FuzzDecodeJSON:./adapters/inbound/rest FuzzPhoneNumber:./domain/message \
            FuzzRecipient:./adapters/outbound/whatsmeow FuzzIncoming:./adapters/outbound/whatsmeow/msgconv
fuzz:
	@for t in $(FUZZ); do \
		echo "fuzz $${t%%:*} $${t#*:}"; \
		$(GO) test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) -parallel 1 $${t#*:} || exit 1; \
	done

# The real socket.io-client the Socket.io tests run, pinned by test/js/package-lock.json.
test/js/node_modules: test/js/package.json test/js/package-lock.json
	npm ci --prefix test/js --no-audit --no-fund
	@touch $@

# The /docs page's Swagger UI, from npm (pinned by web/docs/package-lock.json), copied
# where the REST adapter embeds it. Run after changing the version in web/docs/package.json.
DOCS_UI := web/docs/node_modules/swagger-ui-dist
DOCS_TO := adapters/inbound/rest/docs
docs-assets:
	npm ci --prefix web/docs --no-audit --no-fund --ignore-scripts
	cp $(DOCS_UI)/swagger-ui-bundle.js $(DOCS_UI)/swagger-ui.css $(DOCS_TO)/
	cp $(DOCS_UI)/LICENSE $(DOCS_TO)/swagger-ui-LICENSE
	cp $(DOCS_UI)/NOTICE $(DOCS_TO)/swagger-ui-NOTICE

# The /console page's Socket.io client, from npm (pinned by web/console/package-lock.json),
# copied where the REST adapter embeds it. Run after changing the version in web/console/package.json.
CONSOLE_IO := web/console/node_modules/socket.io-client
CONSOLE_TO := adapters/inbound/rest/console
console-assets:
	npm ci --prefix web/console --no-audit --no-fund --ignore-scripts
	cp $(CONSOLE_IO)/dist/socket.io.esm.min.js $(CONSOLE_TO)/
	cp $(CONSOLE_IO)/LICENSE $(CONSOLE_TO)/socket.io-client-LICENSE

lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

generate:
	$(GO) tool wire gen ./bootstrap

# Fails when wire_gen.go is not what wire would generate from wire.go.
generate-check:
	@$(GO) tool wire diff ./bootstrap >/tmp/wagate-wire.diff 2>&1; status=$$?; \
	if [ $$status -ne 0 ]; then cat /tmp/wagate-wire.diff; echo "bootstrap/wire_gen.go is stale: run make generate"; exit 1; fi

# Benchmarks: medians over BENCHCOUNT runs are what we report (see README, Benchmarks),
# then the Socket.io fan-out against Node.js socket.io, then devices per process and
# ingest (BENCHMARKS.md).
BENCHCOUNT ?= 6
bench: bench-go bench-socketio bench-devices

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) $(PKGS)

# The load generator on core 1, the servers it starts on core 0 (taskset, with two cores or
# more). BENCHFLAGS=-quick: 2 rounds of shorter scenarios; -only NAME: some scenarios.
BENCHFLAGS ?=
PIN        := $(shell command -v taskset >/dev/null && [ "$$(nproc)" -ge 2 ] && echo taskset -c 1)
bench-socketio: bench/peer/node_modules
	$(GO) build -o $(BIN)/bench-gateway ./bench/gateway
	$(GO) build -o $(BIN)/loadgen ./bench/loadgen
	$(PIN) ./$(BIN)/loadgen -wagate $(BIN)/bench-gateway $(if $(PIN),,-cpu '') $(BENCHFLAGS)

# Devices per process: links DEVICES devices to the gateway (a child process) through the
# simulator, then measures memory, idle CPU, the restore after a restart and the ingest
# latency, on SQLite; then the ingest on PostgreSQL (127.0.0.1:5432, a database of its own).
DEVICES     ?= 1000
DEVICEFLAGS ?=
bench-devices:
	$(GO) build -o $(BIN)/bench-devices ./bench/devices
	./$(BIN)/bench-devices -n $(DEVICES) $(DEVICEFLAGS)
	./$(BIN)/bench-devices -db postgres -ingest-only $(DEVICEFLAGS)

# The reference Node.js socket.io server's dependencies, pinned by bench/peer/package-lock.json.
bench/peer/node_modules: bench/peer/package.json bench/peer/package-lock.json
	npm ci --prefix bench/peer --no-audit --no-fund
	@touch $@

clean:
	rm -rf $(BIN)
