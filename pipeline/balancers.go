package pipeline

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lb"
)

// OpenBalancer makes the client of one load balancer, given how to reach its admin API's
// unix socket (through deck's connection to the balancer's host). The CLI passes the real
// providers (Caddy); tests pass a fake.
type OpenBalancer func(spec manifest.LoadBalancerSpec, dial func(ctx context.Context) (net.Conn, error)) (lb.Balancer, error)

// readBalancers reads what each of the environment's load balancers holds for the app
// (opening them first, once per session). A balancer that cannot be read is marked so; the
// planner refuses to plan a routed service without it, so nothing is touched.
func (s *Session) readBalancers(ctx context.Context) {
	specs := s.T.Env.LoadBalancers
	if len(specs) == 0 {
		return
	}
	s.initBalancers()
	var wg sync.WaitGroup
	for i := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.readBalancer(ctx, i, s.Fleet.Host(specs[i].Host))
		}()
	}
	wg.Wait()
	s.Obs.Balancers = s.lbObs
}

// readBalancersOn reads the balancers that run on host h, as soon as h is connected (the
// first read of a session): a balancer on a unix host is read while an ssh host's
// handshake is still going on.
func (s *Session) readBalancersOn(ctx context.Context, h providers.Host) {
	for i, spec := range s.T.Env.LoadBalancers {
		if spec.Host == h.Name() {
			s.readBalancer(ctx, i, h)
		}
	}
}

// initBalancers sizes the session's balancer slices; every entry starts as not read.
func (s *Session) initBalancers() {
	specs := s.T.Env.LoadBalancers
	if s.Balancers == nil {
		s.Balancers = make([]lb.Balancer, len(specs))
	}
	if s.lbObs == nil {
		s.lbObs = make([]providers.BalancerObservation, len(specs))
		for i, spec := range specs {
			s.lbObs[i] = providers.BalancerObservation{Spec: spec,
				Err: fmt.Errorf("its host %s is unreachable, and deck reaches its admin API through that host", spec.Host)}
		}
	}
}

// readBalancer reads balancer i through h, its host's connection (nil: unreachable).
// Each index is written by one goroutine at a time.
func (s *Session) readBalancer(ctx context.Context, i int, h providers.Host) {
	spec := s.T.Env.LoadBalancers[i]
	bo := providers.BalancerObservation{Spec: spec}
	defer func() { s.lbObs[i] = bo }()
	if s.Balancers[i] == nil {
		if h == nil {
			bo.Err = fmt.Errorf("its host %s is unreachable, and deck reaches its admin API through that host", spec.Host)
			return
		}
		b, err := s.openBalancer(spec, h)
		if err != nil {
			bo.Err = err
			return
		}
		s.Balancers[i] = b
	}
	ctx, cancel := context.WithTimeout(ctx, s.T.HostTimeout)
	defer cancel()
	var routes map[string]lb.Route
	var neighbours []lb.Route
	var err error
	if nr, ok := s.Balancers[i].(lb.NeighbourReader); ok {
		routes, neighbours, err = nr.RoutesAndNeighbours(ctx, s.T.App.Name, s.T.Env.Name)
	} else {
		routes, err = s.Balancers[i].Routes(ctx, s.T.App.Name, s.T.Env.Name)
	}
	if err != nil {
		bo.Err = err
		return
	}
	bo.Reachable, bo.Routes, bo.Neighbours = true, routes, neighbours
}

// openBalancer makes the balancer's client, reaching its admin socket through h.
func (s *Session) openBalancer(spec manifest.LoadBalancerSpec, h providers.Host) (lb.Balancer, error) {
	if s.T.OpenBalancer == nil {
		return nil, fmt.Errorf("this command cannot reach load balancers")
	}
	sd, ok := h.(providers.SocketDialer)
	if !ok {
		return nil, fmt.Errorf("host %s cannot open unix sockets", h.Name())
	}
	dial := func(ctx context.Context) (net.Conn, error) { return sd.DialSocket(ctx, spec.Admin) }
	return s.T.OpenBalancer(spec, dial)
}

// closeBalancers closes the balancers' clients.
func (s *Session) closeBalancers() {
	for _, b := range s.Balancers {
		if b != nil {
			_ = b.Close()
		}
	}
}

// OpenedBalancers are the balancers that could be opened.
func (s *Session) OpenedBalancers() []lb.Balancer {
	var out []lb.Balancer
	for _, b := range s.Balancers {
		if b != nil {
			out = append(out, b)
		}
	}
	return out
}

// BalancersDrifted reads the routes of the balancers the session has opened and reports
// whether one's differ from what the session last read of it: it restarted with an empty
// configuration, or someone changed it. It writes nothing. A balancer that cannot be read
// now is left to the next full read.
func (s *Session) BalancersDrifted(ctx context.Context) bool {
	for i, b := range s.Balancers {
		if b == nil || i >= len(s.lbObs) {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, s.T.HostTimeout)
		routes, err := b.Routes(cctx, s.T.App.Name, s.T.Env.Name)
		cancel()
		if err != nil {
			continue
		}
		if !s.lbObs[i].Reachable || !sameRoutes(routes, s.lbObs[i].Routes) {
			return true
		}
	}
	return false
}

// sameRoutes reports whether two reads of a balancer's routes hold the same routes, in
// any order of their lists.
func sameRoutes(a, b map[string]lb.Route) bool {
	if len(a) != len(b) {
		return false
	}
	sorted := func(s []string) []string { return slices.Sorted(slices.Values(s)) }
	for k, x := range a {
		y, ok := b[k]
		if !ok || x.App != y.App || x.Env != y.Env || x.Service != y.Service || x.Path != y.Path ||
			x.Sticky != y.Sticky || x.Health != y.Health || x.Withdrawn != y.Withdrawn ||
			!slices.Equal(sorted(x.Hosts), sorted(y.Hosts)) || !slices.Equal(sorted(x.Targets), sorted(y.Targets)) ||
			!slices.Equal(sorted(x.Draining), sorted(y.Draining)) {
			return false
		}
	}
	return true
}
