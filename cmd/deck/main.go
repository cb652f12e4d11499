// Command deck deploys and runs services on a fleet of Podman hosts.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/deckhq/deck/cmd/internal/cli"
	"github.com/deckhq/deck/cmd/internal/iostreams"
)

// version and commit are set at build time (-ldflags "-X main.version=... -X main.commit=...",
// see the Makefile and .goreleaser.yaml).
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	deps := cli.Deps{IO: iostreams.System(), Version: version, Commit: commit}
	if exe, err := os.Executable(); err == nil {
		deps.SSHMux = []string{exe, "ssh-mux"}
	}
	code := cli.Main(ctx, os.Args[1:], deps)
	stop()
	os.Exit(code)
}
