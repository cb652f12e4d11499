package main

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/containers/podman/v5/pkg/bindings"
	"gopkg.in/yaml.v3"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/podman"
	"github.com/deckhq/deck/testhosts"
)

// host is one connected host: the provider host deck's Dialer returned (kept for Close)
// and the bindings connection inside it, which the floor's own calls use.
type host struct {
	spec manifest.HostSpec
	deck providers.Host
	conn context.Context
}

// loadHosts reads the hosts file. testhosts.Host has the file's fields; the manifest's own
// loader is not exported on its own (it reads hosts as part of an app).
func loadHosts(file string) ([]manifest.HostSpec, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var list []testhosts.Host
	if err := yaml.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s: no hosts", file)
	}
	specs := make([]manifest.HostSpec, len(list))
	for i, h := range list {
		specs[i] = h.Spec()
	}
	return specs, nil
}

// connect dials every host in parallel, as deck does.
func connect(ctx context.Context, file string, d podman.Dialer) ([]*host, error) {
	specs, err := loadHosts(file)
	if err != nil {
		return nil, err
	}
	hosts := make([]*host, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Go(func() { hosts[i], errs[i] = dial(ctx, d, spec) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			closeAll(hosts)
			return nil, fmt.Errorf("%s: %w", specs[i].Name, err)
		}
	}
	return hosts, nil
}

// dial connects with deck's Dialer under a context that is never cancelled: the bindings
// connection keeps the dial's context, so a dial deadline would end every later call.
func dial(_ context.Context, d podman.Dialer, spec manifest.HostSpec) (*host, error) {
	h, err := d.Dial(context.Background(), spec)
	if err != nil {
		return nil, err
	}
	conn, err := bindingsConn(h)
	if err != nil {
		_ = h.Close()
		return nil, err
	}
	return &host{spec: spec, deck: h, conn: conn}, nil
}

// bindingsConn returns the bindings connection inside a host deck's Dialer connected. The
// floor makes its own API calls on it, never the provider's Create and Start: a floor
// that moves whenever deck's code does measures nothing.
func bindingsConn(h providers.Host) (context.Context, error) {
	ph, ok := h.(*podman.Host)
	if !ok {
		return nil, fmt.Errorf("deck's Dialer returned a %T, not a *podman.Host", h)
	}
	conn := ph.Connection()
	if _, err := bindings.GetClient(conn); err != nil {
		return nil, fmt.Errorf("not a bindings connection: %w", err)
	}
	return conn, nil
}

func closeAll(hosts []*host) {
	for _, h := range hosts {
		if h != nil {
			_ = h.deck.Close()
		}
	}
}

// eachHost runs fn on every host in parallel and returns the first error.
func eachHost(hosts []*host, fn func(i int, h *host) error) error {
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { errs[i] = fn(i, h) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("%s: %w", hosts[i].spec.Name, err)
		}
	}
	return nil
}
