# coinpipe: `make generate` renders coins/ into out/, `make test` runs every check.
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build generate check test unit e2e lint bench fuzz update clean

all: build

build:
	$(GO) build -o bin/coinpipe ./cmd/coinpipe

## generate: render every coin in coins/ into out/<coin>/ (unchanged files are not rewritten)
generate:
	$(GO) run ./cmd/coinpipe generate --coins coins --out out

## check: fail if out/ is stale, writing nothing
check:
	$(GO) run ./cmd/coinpipe generate --check --coins coins --out out

## test: lint, then every test including the buildah end-to-end suite
test: lint
	$(GO) test -timeout 60m ./...

## unit: every test but the buildah end-to-end suite
unit:
	$(GO) test $$($(GO) list ./... | grep -v /e2e)

e2e:
	$(GO) test -v -timeout 60m ./e2e/

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## bench: BenchmarkGenerate (200 copies of coins/bitcoin vs cp -r) and friends; BenchmarkWatch (100 coins, 100 ms GitHub)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./generator/ ./manifest/
	$(GO) test -run '^$$' -bench BenchmarkWatch -benchtime 5x ./watcher/
	$(GO) test -run '^$$' -bench BenchmarkPush -benchtime 30x ./push/
	$(GO) test -run '^$$' -bench BenchmarkRollout20Hosts -benchtime 2x ./internal/cli/

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./manifest/

## update: rewrite golden files (out/, schema/coin.schema.json)
update:
	$(GO) test ./generator/ ./manifest/ -run 'Golden|SchemaIsCurrent' -update

clean:
	rm -rf bin
