package caddy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/deckhq/deck/providers/lb"
)

// routeSet is the routes of deck's server: deck's own, grouped by service, and any others
// (kept as they are, after deck's). Routes are kept as raw JSON, so a change to one service
// leaves every other route exactly as Caddy holds it.
type routeSet struct {
	groups map[string]*group // by the main route's ID
	others []json.RawMessage
}

// group is one service's routes: the main one and the draining companion.
type group struct {
	app, env, service string
	main, companion   json.RawMessage
	// How specific the main route is, for the order: by its hosts first (hostRank), then
	// the longest path prefix.
	hosts   int
	pathLen int
}

// hostRank orders routes by their hosts, most specific first, as a request's host picks
// its site before its path does: a route of exact names only, then one that mixes exact
// names and wildcards, then wildcards only (*.example.com must not take
// api.example.com from the route that names it), then no host at all.
func hostRank(hosts []string) int {
	if len(hosts) == 0 {
		return 0
	}
	wild := 0
	for _, h := range hosts {
		if strings.HasPrefix(h, "*") {
			wild++
		}
	}
	switch wild {
	case 0:
		return 3
	case len(hosts):
		return 1
	}
	return 2
}

// header is what deck reads of every route to group and order them.
type header struct {
	ID    string     `json:"@id"`
	Match []matchSet `json:"match"`
}

func parseRoutes(raws []json.RawMessage) (*routeSet, error) {
	s := &routeSet{groups: map[string]*group{}}
	for _, raw := range raws {
		var h header
		if err := json.Unmarshal(raw, &h); err != nil {
			return nil, fmt.Errorf("reading a route of deck's server: %w", err)
		}
		app, env, service, draining, ok := parseID(h.ID)
		if !ok {
			s.others = append(s.others, raw)
			continue
		}
		g := s.group(app, env, service)
		if draining {
			g.companion = raw
			continue
		}
		g.main = raw
		g.hosts, g.pathLen = 0, 1
		if len(h.Match) > 0 {
			g.hosts = hostRank(h.Match[0].Host)
			if len(h.Match[0].Path) > 0 {
				g.pathLen = len(h.Match[0].Path[0])
			}
		}
	}
	return s, nil
}

func (s *routeSet) group(app, env, service string) *group {
	id := routeID(app, env, service)
	g, ok := s.groups[id]
	if !ok {
		g = &group{app: app, env: env, service: service}
		s.groups[id] = g
	}
	return g
}

// put replaces the service's routes with r's. A route that matches the very requests
// another app's or environment's route on this server matches is refused: Caddy would
// give them all to the first, and the other's deploy would answer for this one.
func (s *routeSet) put(r lb.Route) error {
	for _, o := range s.groups {
		if o.main == nil || (o.app == r.App && o.env == r.Env) {
			continue
		}
		other, err := o.route()
		if err != nil {
			return err
		}
		if host, ok := other.Overlap(r); ok {
			if host == "" {
				host = "any host"
			} else {
				host = "host " + host
			}
			path := "any path"
			if r.Path != "/" {
				path = "path " + r.Path
			}
			return fmt.Errorf("%w: the route of app %s, environment %s, service %s on this listen address takes the same requests (%s, %s); "+
				"give this environment's load balancer its own listen port, or the service an http.alias or a path of its own",
				lb.ErrRouteClash, o.app, o.env, o.service, host, path)
		}
	}
	rs := toCaddy(r)
	g := s.group(r.App, r.Env, r.Service)
	var err error
	if g.main, err = json.Marshal(rs[0]); err != nil {
		return err
	}
	g.companion = nil
	if len(rs) > 1 {
		if g.companion, err = json.Marshal(rs[1]); err != nil {
			return err
		}
	}
	g.hosts, g.pathLen = hostRank(r.Hosts), len(r.Path)
	return nil
}

func (s *routeSet) delete(app, env, service string) {
	delete(s.groups, routeID(app, env, service))
}

// list returns the routes in the order Caddy must try them: deck's, most specific first,
// each service's companion after its main route; then the others.
func (s *routeSet) list() []json.RawMessage {
	ids := make([]string, 0, len(s.groups))
	for id := range s.groups {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := s.groups[ids[i]], s.groups[ids[j]]
		if a.hosts != b.hosts {
			return a.hosts > b.hosts
		}
		if a.pathLen != b.pathLen {
			return a.pathLen > b.pathLen
		}
		return ids[i] < ids[j]
	})
	out := []json.RawMessage{}
	for _, id := range ids {
		for _, raw := range []json.RawMessage{s.groups[id].main, s.groups[id].companion} {
			if raw != nil {
				out = append(out, raw)
			}
		}
	}
	return append(out, s.others...)
}

// split reads the routes of app and env, by service, and, with others, those of every other
// app and environment.
func (s *routeSet) split(app, env string, others bool) (map[string]lb.Route, []lb.Route, error) {
	out := map[string]lb.Route{}
	var rest []lb.Route
	for _, g := range s.groups {
		if (!others && (g.app != app || g.env != env)) || g.main == nil {
			continue
		}
		r, err := g.route()
		if err != nil {
			return nil, nil, err
		}
		if g.app == app && g.env == env {
			out[g.service] = r
		} else {
			rest = append(rest, r)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].Key() < rest[j].Key() })
	return out, rest, nil
}

// route reads the group back as deck's route.
func (g *group) route() (lb.Route, error) {
	var main route
	if err := json.Unmarshal(g.main, &main); err != nil {
		return lb.Route{}, fmt.Errorf("reading route %s: %w", routeID(g.app, g.env, g.service), err)
	}
	var companion *route
	if g.companion != nil {
		companion = &route{}
		if err := json.Unmarshal(g.companion, companion); err != nil {
			return lb.Route{}, fmt.Errorf("reading route %s: %w", routeID(g.app, g.env, g.service)+drainingSuffix, err)
		}
	}
	return fromCaddy(g.app, g.env, g.service, main, companion)
}
