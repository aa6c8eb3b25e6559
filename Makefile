# Folio's developer loop. `make` alone prints this help.
.DEFAULT_GOAL := help
SHELL := /bin/bash

GO    ?= go
NPM   ?= npm
TOOLS := .folio/bin
# npm ci writes node_modules/.package-lock.json: newer than the lock file = installed.
WEB_DEPS := web/node_modules/.package-lock.json

.PHONY: help build run test test-go test-busy web web-test e2e bench corpus corpus-quick chaos faults noisy drill fuzz lint tools clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "; printf "usage: make <target>\n\n"} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build folio, api and worker into bin/
	$(GO) build -o bin/ ./cmd/...

run: ## Run the whole stack on this machine (Postgres, S3, API, worker, the demo app) at http://localhost:8080
	@$(MAKE) --no-print-directory -j3 folio-binary $(TOOLS)/versitygw web ocr-tools
	./bin/folio dev

# What make run needs, side by side: folio alone (dev runs the API and the
# worker in one process), the S3 server, the demo, Tesseract and clamd.
.PHONY: folio-binary ocr-tools
folio-binary:
	$(GO) build -o bin/folio ./cmd/folio
ocr-tools:
	@./scripts/install-ocr.sh
	@./scripts/install-clamav.sh
	@./scripts/install-pgbackrest.sh

test: test-go web-test ## Run every test: Go (real Postgres and S3, -race), then the web client's

# PKGS and RUN narrow a run: make test-go PKGS=./jobs RUN='^TestFair'.
PKGS ?= ./...
RUN ?=
test-go: $(TOOLS)/versitygw $(WEB_DEPS) ## Run the Go tests against real Postgres and S3, with the race detector (PKGS, RUN narrow it)
	$(GO) test -race -count=1 -timeout 25m $(if $(RUN),-run '$(RUN)') $(PKGS)

test-busy: ## Run make test with two CPU-bound processes beside it for the whole run (BUSY_PROCS; PKGS and RUN as for test-go)
	./scripts/busy.sh $(MAKE) --no-print-directory test

$(WEB_DEPS): web/package-lock.json web/package.json web/client/package.json web/demo/package.json
	@command -v $(NPM) >/dev/null || { echo "the web side needs Node.js 20 and npm"; exit 1; }
	cd web && $(NPM) ci --no-audit --no-fund
	@touch $@

web: web/demo/dist/index.html ## Build the client package (web/client/dist) and the demo app (web/demo/dist, served by folio dev at /)

# Rebuilt only when a source changed (make run stays quick).
WEB_SRC := $(shell find web/client/src web/client/package.json web/client/tsconfig.json web/client/tsconfig.build.json \
	web/demo/src web/demo/public web/demo/index.html web/demo/vite.config.ts web/demo/package.json -type f 2>/dev/null)
web/demo/dist/index.html: $(WEB_DEPS) $(WEB_SRC)
	cd web && $(NPM) run build

web-test: $(WEB_DEPS) ## Type-check the client and the demo (tsc --noEmit, strict) and run the client's unit tests (Vitest)
	cd web && $(NPM) run check && $(NPM) test

e2e: build web $(TOOLS)/versitygw ## Drive the demo in a real Chromium against a real folio dev stack (installs chromium, poppler-utils if missing)
	./scripts/e2e.sh

bench: $(TOOLS)/versitygw $(TOOLS)/benchstat ## Run the benchmarks (upload memory and throughput, one-request and tus beside the SDK's own multipart upload; small uploads; event appends, delivery and fan-out, this design beside the previous one; page images beside pdftoppm; malware scans beside clamdscan, and what the scan stage adds to a 1-page PDF; event appends with three webhook endpoints beside none, and 1,000 documents' webhooks to three endpoints; real api, Postgres, S3, clamd) into bench.txt
	$(GO) test -run '^$$' -bench UploadMemory -benchtime 1x -count $(or $(COUNT),6) ./internal/e2e | tee bench.txt
	for i in $$(seq $(or $(COUNT),6)); do $(GO) test -run '^$$' -bench UploadThroughput -benchtime 1x -count 1 ./internal/e2e; done | tee -a bench.txt # interleaved: sdk, tus, post each round
	$(GO) test -run '^$$' -bench UploadSmall -benchtime 2000x -count $(or $(COUNT),6) ./internal/e2e | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'EventAppend|HubDeliver' -benchtime 3s -count $(or $(COUNT),6) -timeout 30m ./events | tee -a bench.txt
	$(GO) test -run '^$$' -bench EventDelivery -benchtime 10x -count $(or $(COUNT),6) -timeout 30m ./internal/e2e | tee -a bench.txt
	$(GO) test -run '^$$' -bench EventFanout -benchtime 20x -count $(or $(COUNT),6) -timeout 30m ./internal/e2e | tee -a bench.txt
	$(GO) test -run '^$$' -bench RenderPages -count $(or $(COUNT),6) ./internal/sandbox | tee -a bench.txt
	$(GO) test -run '^$$' -bench ScanThroughput -benchtime 3x -count $(or $(COUNT),6) ./internal/e2e | tee -a bench.txt
	$(GO) test -run '^$$' -bench OnePageToDone -benchtime 20x -count $(or $(COUNT),6) ./internal/e2e | tee -a bench.txt
	$(GO) test -run '^$$' -bench AppendWithWebhooks -benchtime 3s -count $(or $(COUNT),6) -timeout 30m ./webhooks | tee -a bench.txt
	$(GO) test -run '^$$' -bench WebhooksThreeEndpoints -benchtime 1x -count $(or $(COUNT),6) -timeout 60m ./internal/e2e | tee -a bench.txt
	$(TOOLS)/benchstat bench.txt
	$(TOOLS)/benchstat -col /by -filter '/by:(folio OR clamdscan)' bench.txt
	$(TOOLS)/benchstat -col /design -filter '/design:(clock OR sequenced)' bench.txt

drill: $(TOOLS)/versitygw ## Back up, break and restore a local stack (pgBackRest, S3 versions, the erasure ledger): every check of docs/operations.md "Restore drill", RPO and RTO into drill.txt (DRILL_DOCS per path, DRILL_BIG PDFs of DRILL_BIG_MIB)
	@./scripts/install-pgbackrest.sh
	@./scripts/install-clamav.sh
	rm -f drill.txt
	CI=true $(GO) test -count=1 -timeout 60m -run '^TestRestoreDrill$$' -v ./internal/e2e -args \
		-drill.docs $(or $(DRILL_DOCS),100) -drill.big $(or $(DRILL_BIG),4) -drill.big-mib $(or $(DRILL_BIG_MIB),100) -drill.report $(CURDIR)/drill.txt
	@cat drill.txt

corpus: ## Parse real PDFs (pdfcpu's, texlive's, CJK) against poppler: F1, page counts, speed, RSS (docs/corpus-report.txt); OCR of scanned pages beside ocrmypdf (docs/ocr-report.txt), and of pages turned, skewed and in German, French, Korean (docs/ocr-scans-report.txt); page images beside pdftoppm (docs/render-report.txt)
	./scripts/fetch-corpus.sh .folio/corpus
	$(GO) test -count=1 -timeout 30m -run '^TestCorpus$$' ./pdf/ -args -corpus $(CURDIR)/.folio/corpus -report $(CURDIR)/docs/corpus-report.txt
	$(GO) test -count=1 -timeout 30m -run '^TestOCRCorpus$$' ./pdf/ -args -corpus $(CURDIR)/.folio/corpus -ocr-report $(CURDIR)/docs/ocr-report.txt
	$(GO) test -count=1 -timeout 30m -run '^TestOCRScans$$' ./pdf/ -args -corpus $(CURDIR)/.folio/corpus -ocr-langs $(CURDIR)/.folio/ocr-langs \
		-ocr-scans-report $(CURDIR)/docs/ocr-scans-report.txt
	$(GO) test -count=1 -timeout 30m -run '^TestRenderCorpus$$' ./pdf/ -args -corpus $(CURDIR)/.folio/corpus -render-report $(CURDIR)/docs/render-report.txt

CORPUS_SAMPLE ?= 10
CORPUS_OCR_PAGES ?= 8
corpus-quick: ## CI's corpus check: every CORPUS_SAMPLE-th file (10), CORPUS_OCR_PAGES scanned pages (8), two files at a time, no speed peers; the same bars as make corpus, reports to artifacts/corpus
	CORPUS_PEERS=0 ./scripts/fetch-corpus.sh .folio/corpus
	mkdir -p artifacts/corpus
	$(GO) test -count=1 -timeout 30m -run '^(TestCorpus|TestOCRCorpus|TestRenderCorpus|TestOCRScans)$$' ./pdf/ -args -corpus $(CURDIR)/.folio/corpus \
		-corpus.quick -corpus.sample $(CORPUS_SAMPLE) -ocr-pages $(CORPUS_OCR_PAGES) -report $(CURDIR)/artifacts/corpus/corpus-report.txt \
		-ocr-report $(CURDIR)/artifacts/corpus/ocr-report.txt -render-report $(CURDIR)/artifacts/corpus/render-report.txt \
		-ocr-langs $(CURDIR)/.folio/ocr-langs -ocr-scan-pages 1 -ocr-lang-pages 1 -ocr-scans-report $(CURDIR)/artifacts/corpus/ocr-scans-report.txt

CHAOS_DOCS ?= 200
chaos: $(TOOLS)/versitygw ## Restart and kill APIs and workers while CHAOS_DOCS corpus PDFs are parsed, and while 1 GiB uploads arrive (make test runs short forms)
	./scripts/fetch-corpus.sh .folio/corpus
	$(GO) test -count=1 -timeout 30m -run '^(TestChaos|TestResumableUploadRollingDeploy|TestCLIUploadResume)$$' -v ./internal/e2e \
		-args -chaos.docs $(CHAOS_DOCS) -chaos.corpus $(CURDIR)/.folio/corpus -upload.mib 1024

FAULT_FOR ?= 60s
faults: $(TOOLS)/versitygw ## Uploads, parses and a live stream through Postgres and S3 faults, FAULT_FOR each (make test runs a 3 s form); table in docs/faults-report.md
	$(GO) test -count=1 -timeout 90m -run '^TestFaults$$' -v ./internal/e2e -args -faults.duration $(FAULT_FOR) -faults.report $(CURDIR)/docs/faults-report.md

noisy: $(TOOLS)/versitygw ## One owner abuses the service (each abuse the fair-share issue found, then all at once) while another works: her figures beside the idle ones, bounds checked (make test runs a short form); table in docs/noisy-report.md
	$(GO) test -count=1 -timeout 120m -run '^TestNoisyNeighbours$$' -v ./internal/e2e -args -noisy.full -noisy.report $(CURDIR)/docs/noisy-report.md

FUZZTIME ?= 30s
fuzz: ## Fuzz the text extractor, FUZZTIME per target (crashers are kept in pdf/testdata/fuzz)
	$(GO) test -run '^$$' -fuzz '^FuzzContent$$' -fuzztime $(FUZZTIME) ./pdf
	$(GO) test -run '^$$' -fuzz '^FuzzCMap$$' -fuzztime $(FUZZTIME) ./pdf

lint: $(TOOLS)/golangci-lint ## Check formatting (gofmt), go vet, golangci-lint and the house's rules (internal/layering: imports, table owners, tracked files, the package map)
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/golangci-lint run ./...
	$(GO) test -count=1 ./internal/layering

tools: $(TOOLS)/versitygw $(TOOLS)/golangci-lint ## Build the pinned tools (tools/go.mod) into .folio/bin

$(TOOLS)/versitygw: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$@ github.com/versity/versitygw/cmd/versitygw

$(TOOLS)/benchstat: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$@ golang.org/x/perf/cmd/benchstat

$(TOOLS)/golangci-lint: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint

clean: ## Remove build output (keeps .folio/, the local database and objects)
	rm -rf bin/
