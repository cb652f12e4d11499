# The podman bindings need these build tags (no cgo headers for gpgme/btrfs/devicemapper):
# every Go command here uses them, so no one has to remember them.
TAGS    := remote containers_image_openpgp exclude_graphdriver_btrfs btrfs_noversion exclude_graphdriver_devicemapper
GO      ?= go
GOTAGS  := -tags "$(TAGS)"
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Stamped in, as the release build does: Go's own VCS stamp is off where GOFLAGS has
# -buildvcs=false (as on these machines), and deck version would say "commit unknown".
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
# GoReleaser, pinned; `go run` builds it once into Go's cache (cmd/deck/release_test.go uses
# the same version).
GORELEASER ?= $(GO) run github.com/goreleaser/goreleaser/v2@v2.15.1
export CGO_ENABLED := 0

.PHONY: all build examples deps demo test unit e2e bench bench-lb bench-controller lint clean schema release-snapshot

all: build

build:
	$(GO) build $(GOTAGS) -ldflags "-s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o bin/deck ./cmd/deck
	$(GO) build -ldflags "-s -w" -o bin/loadgen ./bench/loadgen

# The release archives (linux and darwin, amd64 and arm64), checksums.txt and the changelog
# in dist/, as a tagged release would publish them, without publishing anything.
release-snapshot:
	$(GORELEASER) check
	$(GORELEASER) release --snapshot --clean

# The example services are static binaries copied into FROM scratch images.
examples:
	$(GO) build -o examples/hello/hello ./examples/hello
	$(GO) build -o examples/worker/worker ./examples/worker
	$(GO) build -o examples/lines/lines ./examples/lines

# Installs what is missing (podman, runc, openssh-server, caddy, ...) with apt-get.
deps:
	./testhosts/hosts.sh install

# Starts three Podman hosts (one reached over ssh) and Caddy on h1, deploys
# examples/hello, shows its status, curls the load balancer's one address, rolls a new
# revision out under load through it (failing on any failed request), and tears the hosts
# down (KEEP=1 leaves them running).
demo: deps build examples
	./examples/demo.sh

# The whole suite: unit tests, the Podman provider against real hosts, and the end-to-end
# tests on three real hosts.
test: deps examples
	$(GO) test $(GOTAGS) -count=1 -timeout 40m ./...

unit:
	$(GO) test $(GOTAGS) -count=1 ./manifest/... ./planner/... ./executor/... ./providers/fake/... ./cmd/... ./templates/...

e2e: deps examples
	$(GO) test $(GOTAGS) -count=1 -timeout 30m -v ./e2e/

# Deploy speed against a floor (bench/floor) on real hosts; see bench/deploy.sh.
# SCALE=1 adds 12 hosts x 30/120/240 tasks; LOSS=1 adds 20 cold deploys of 240 tasks.
# Then the load balancer's figures (bench-lb).
bench: deps build examples
	$(GO) test $(GOTAGS) -run '^$$' -bench . -benchtime 3x ./bench/
	$(GO) build $(GOTAGS) -o bin/floor ./bench/floor
	./bench/deploy.sh
	./bench/lbraw.sh
	./bench/lb.sh
	./bench/controller.sh

# The load balancer: what Caddy costs per request, straight to examples/hello vs through a
# private Caddy on this machine (bench/lbraw.sh); then deck with Caddy on 3 real hosts vs
# the same without a balancer: cold and rolling deploys, rollback, p99 during a rollout vs
# at rest (bench/lb.sh; ROUNDS, PIN_BRIDGE=1, VERBOSE=1).
bench-lb: deps build examples
	./bench/lbraw.sh
	./bench/lb.sh

# deck controller: kill -> replacement serving, host cut -> rescheduled, reconcile
# duration at 60 tasks, idle CPU and RSS (bench/controller.sh).
bench-controller: deps build examples
	./bench/controller.sh

# The JSON Schemas of deck.yaml and the service manifests (schema/), generated from the
# types in manifest/schema; a test fails when they are not what the types give.
schema:
	$(GO) generate ./manifest/schema

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(GOTAGS) ./...

clean:
	rm -rf bin dist examples/hello/hello examples/worker/worker examples/lines/lines
