package pipeline

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lb"
)

// OpenBalancer makes the client of one load balancer, given how to reach its admin API's
// unix socket (through deck's connection to the balancer's host). The CLI passes the real
// providers (Caddy); tests pass a fake.
type OpenBalancer func(spec manifest.LoadBalancerSpec, dial func(ctx context.Context) (net.Conn, error)) (lb.Balancer, error)

// readBalancers opens the environment's load balancers (once per session) and reads what
// each holds for the app. A balancer that cannot be read is marked so; the planner refuses
// to plan a routed service without it, so nothing is touched.
func (s *Session) readBalancers(ctx context.Context) {
	specs := s.T.Env.LoadBalancers
	if len(specs) == 0 {
		return
	}
	if s.Balancers == nil {
		s.Balancers = make([]lb.Balancer, len(specs))
	}
	obs := make([]providers.BalancerObservation, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			obs[i] = s.readBalancer(ctx, i, spec)
		}()
	}
	wg.Wait()
	s.Obs.Balancers = obs
}

func (s *Session) readBalancer(ctx context.Context, i int, spec manifest.LoadBalancerSpec) providers.BalancerObservation {
	bo := providers.BalancerObservation{Spec: spec}
	if s.Balancers[i] == nil {
		b, err := s.openBalancer(spec)
		if err != nil {
			bo.Err = err
			return bo
		}
		s.Balancers[i] = b
	}
	ctx, cancel := context.WithTimeout(ctx, s.T.HostTimeout)
	defer cancel()
	routes, err := s.Balancers[i].Routes(ctx, s.T.App.Name, s.T.Env.Name)
	if err != nil {
		bo.Err = err
		return bo
	}
	bo.Reachable, bo.Routes = true, routes
	return bo
}

func (s *Session) openBalancer(spec manifest.LoadBalancerSpec) (lb.Balancer, error) {
	if s.T.OpenBalancer == nil {
		return nil, fmt.Errorf("this command cannot reach load balancers")
	}
	if s.Fleet.Host(spec.Host) == nil {
		return nil, fmt.Errorf("its host %s is unreachable, and deck reaches its admin API through that host", spec.Host)
	}
	host := spec.Host
	dial := func(ctx context.Context) (net.Conn, error) {
		h := s.Fleet.Host(host)
		if h == nil {
			return nil, fmt.Errorf("host %s is not connected", host)
		}
		sd, ok := h.(providers.SocketDialer)
		if !ok {
			return nil, fmt.Errorf("host %s cannot open unix sockets", host)
		}
		return sd.DialSocket(ctx, spec.Admin)
	}
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
