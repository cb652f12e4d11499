package state

import (
	"fmt"
	"sort"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lb"
)

// BalancerState is one load balancer of the environment as read.
type BalancerState struct {
	Spec      manifest.LoadBalancerSpec
	Reachable bool
	Err       string // why its admin API could not be read
	// Neighbours are the routes of other apps and environments on its listener.
	Neighbours []lb.Route
}

// RouteState is one service's route on one load balancer, as read.
type RouteState struct {
	ID      string // LB + "/" + Service
	LB      string
	Service string
	Route   lb.Route
}

// loadBalancers puts what was read from the load balancers into the store.
func loadBalancers(txn *memdb.Txn, obs []providers.BalancerObservation) ([]BalancerState, error) {
	out := make([]BalancerState, 0, len(obs))
	for _, bo := range obs {
		bs := BalancerState{Spec: bo.Spec, Reachable: bo.Reachable, Neighbours: bo.Neighbours}
		if bo.Err != nil {
			bs.Err = bo.Err.Error()
		}
		out = append(out, bs)
		for svc, r := range bo.Routes {
			rs := &RouteState{ID: bo.Spec.Name + "/" + svc, LB: bo.Spec.Name, Service: svc, Route: r}
			if err := txn.Insert(TableRoutes, rs); err != nil {
				return nil, fmt.Errorf("state: route %s: %w", rs.ID, err)
			}
		}
	}
	return out, nil
}

// Balancers returns the environment's load balancers, in the order it lists them.
func (s *Snapshot) Balancers() []BalancerState { return s.balancers }

// Route returns the route of service on load balancer name, if it has one.
func (s *Snapshot) Route(name, service string) (RouteState, bool) {
	raw, err := s.txn.First(TableRoutes, IndexID, name+"/"+service)
	if err != nil || raw == nil {
		return RouteState{}, false
	}
	return *raw.(*RouteState), true
}

// Routes returns every route read, by load balancer then service.
func (s *Snapshot) Routes() []RouteState {
	it, err := s.txn.Get(TableRoutes, IndexID)
	if err != nil {
		return nil
	}
	var out []RouteState
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, *raw.(*RouteState))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
