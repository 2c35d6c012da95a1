# The developer's front door. `make lab` starts the whole topology;
# `make test` runs every test. Both install what is missing first.

GO       ?= go
BIN      := bin/eleanor
PKGS     := ./...
PROGRAMS := mariadbd mariadb-install-db redis-server nginx

.PHONY: all build test test-short fuzz lint lab chaos bench deps clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/eleanor

# Every test: unit, integration against private MariaDB and Redis
# servers, end to end with the built binary, and a short fuzz run.
test:
	scripts/install-deps.sh $(PROGRAMS)
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 9m $(PKGS)
	$(GO) test -run '^$$' -fuzz FuzzProductInput -fuzztime 15s .

# Unit tests only: no server is started.
test-short:
	$(GO) test -short -count=1 $(PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzProductInput -fuzztime 2m .

lint:
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

# The whole topology in the foreground, in .lab/; Ctrl-C stops it.
lab: build
	scripts/install-deps.sh $(PROGRAMS)
	$(BIN) lab --dir .lab

# Every chaos experiment with long phases; the results table goes to
# chaos-results.md (CHAOS.md shows the latest one).
chaos:
	scripts/install-deps.sh $(PROGRAMS)
	$(GO) test -count=1 -timeout 60m -v -run TestChaos ./chaos \
		-chaos.full -chaos.out $(CURDIR)/chaos-results.md

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

deps:
	scripts/install-deps.sh $(PROGRAMS)

clean:
	rm -rf bin .lab
