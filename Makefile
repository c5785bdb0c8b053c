# Vox. `make run` starts the demo, `make test` installs what the tests need and runs
# them all; see README.md.

GO      ?= go
BIN     := bin/vox
NPM_DIR := testdata/tsc
PHONE   := web/phone

.PHONY: build run demo test test-go test-types deps bench lint clean phone

build: phone
	$(GO) build -o $(BIN) ./cmd/vox

# The softphone page's script: JsSIP bundled by esbuild, both pinned in
# web/phone/package-lock.json, into web/phone/dist, which vox embeds. A vox
# built without it (plain go build) serves a page that says to run make.
phone: $(PHONE)/dist/phone.js

$(PHONE)/dist/phone.js: $(PHONE)/src/phone.js $(PHONE)/package-lock.json
	@command -v npm >/dev/null || (apt-get update && apt-get install -y --no-install-recommends nodejs npm)
	cd $(PHONE) && npm ci --no-audit --no-fund && npm run build

# The platform with its embedded default: a bbolt file in ./vox-data, the admin
# token printed at first start, the demo application, HTTP on 127.0.0.1:8080.
# The demo number greets with speech synthesis (espeak-ng).
run: build
	@command -v espeak-ng >/dev/null || (apt-get update && apt-get install -y --no-install-recommends espeak-ng) || \
		echo "vox: no espeak-ng, so the demo number's spoken greeting stays silent"
	$(BIN) serve --data ./vox-data --http 127.0.0.1:8080

# The seed's call played through the demo scenario in virtual time.
demo: build
	cd examples/seed && sed '/^#/d' sim.args | xargs -d '\n' ../../$(BIN) sim

# Everything the tests need is installed here, so a fresh Debian machine with Go
# (and CI) needs nothing else.
# Debian packages the tests use for real: sox makes and checks audio, sip-tester
# (SIPp) brings RFC 4733 captures, espeak-ng speaks for say(), baresip-core is
# the softphone of the end-to-end call test, sipvicious (svwar) tries to
# enumerate SIP users and must find none, chromium and firefox-esr run the
# softphone page (Firefox in a network namespace the test makes with ip),
# linphone-cli is the second softphone, and kamailio plays a carrier that is a
# record-routing proxy.
DEB_TOOLS := node:nodejs npm:npm sox:sox sipp:sip-tester espeak-ng:espeak-ng baresip:baresip-core svwar:sipvicious chromium:chromium firefox-esr:firefox-esr ip:iproute2 linphonec:linphone-cli kamailio:kamailio

deps:
	@missing=""; for t in $(DEB_TOOLS); do command -v $${t%%:*} >/dev/null || missing="$$missing $${t#*:}"; done; \
		if [ -n "$$missing" ]; then apt-get update && apt-get install -y --no-install-recommends $$missing; fi
	@test -x $(NPM_DIR)/node_modules/.bin/tsc || (cd $(NPM_DIR) && npm ci --no-audit --no-fund)

test: deps phone test-go test-types

# The race detector's own allocations would count in the allocation tests, so
# they run once more without it.
test-go:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run 'Allocations|HeaderLookups' ./sip/...

# The shipped TypeScript types must describe the API exactly: the sample scenarios
# type-check, and every mistake in misuse.ts is caught (@ts-expect-error).
test-types:
	cd $(NPM_DIR) && ./node_modules/.bin/tsc --noEmit -p .

bench:
	$(GO) run ./bench/runtimebench

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
