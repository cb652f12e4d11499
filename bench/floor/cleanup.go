package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
)

// call returns the context for one bindings call: the caller's deadline and cancellation,
// with the connection the bindings keep in the dial's context.
func (h *host) call(ctx context.Context) context.Context {
	return callContext{Context: ctx, conn: h.conn}
}

type callContext struct {
	context.Context
	conn context.Context
}

func (c callContext) Value(key any) any {
	if v := c.conn.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}

// removeAll force-removes the floor's containers on every host, 4 at a time per host.
func removeAll(ctx context.Context, hosts []*host) error {
	return eachHost(hosts, func(_ int, h *host) error {
		ids, err := listLabelled(ctx, h, floorLabel+"="+floorValue, true)
		if err != nil {
			return err
		}
		return forEach(ids, 4, func(id string) error {
			opts := new(containers.RemoveOptions).WithForce(true).WithVolumes(true).WithTimeout(0)
			_, err := containers.Remove(h.call(ctx), id, opts)
			return err
		})
	})
}

// listLabelled returns the IDs of the containers carrying label (k=v), running or (all) not.
func listLabelled(ctx context.Context, h *host, label string, all bool) ([]string, error) {
	opts := new(containers.ListOptions).WithAll(all).WithFilters(map[string][]string{"label": {label}})
	list, err := containers.List(h.call(ctx), opts)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	return ids, nil
}

// forEach runs fn on every item, n at a time, and returns the first error.
func forEach(items []string, n int, fn func(string) error) error {
	slots := make(chan struct{}, n)
	errs := make(chan error, len(items))
	var wg sync.WaitGroup
	for _, it := range items {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := fn(it); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// countHealthy counts the containers carrying cfg.healthy (k=v), of every state, and those
// of them that are running and answer 200 on cfg.healthPath at their published cfg.port:
// an account of a deploy that does not take deck's word for it.
func countHealthy(ctx context.Context, hosts []*host, cfg config) (healthy, total int, err error) {
	if !strings.Contains(cfg.healthy, "=") {
		return 0, 0, fmt.Errorf("-healthy wants a label as key=value")
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var ok, all atomic.Int64
	err = eachHost(hosts, func(_ int, h *host) error {
		list, err := containers.List(h.call(ctx), new(containers.ListOptions).WithAll(true).
			WithFilters(map[string][]string{"label": {cfg.healthy}}))
		if err != nil {
			return err
		}
		all.Add(int64(len(list)))
		// Every task at once, as deck probes them: this is also the floor of what a no-op
		// deploy or deck status must do (see bench/deploy.sh's steady rows).
		var wg sync.WaitGroup
		for _, c := range list {
			for _, p := range c.Ports {
				if int(p.ContainerPort) != cfg.port || c.State != "running" {
					continue
				}
				wg.Add(1)
				go func(url string) {
					defer wg.Done()
					if probe(ctx, client, url) {
						ok.Add(1)
					}
				}("http://" + h.spec.Address + ":" + strconv.Itoa(int(p.HostPort)) + cfg.healthPath)
				break
			}
		}
		wg.Wait()
		return nil
	})
	return int(ok.Load()), int(all.Load()), err
}
