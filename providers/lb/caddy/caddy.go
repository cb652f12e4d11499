// Package caddy drives a Caddy 2.6 load balancer through its admin API, reached over a
// unix socket on the balancer's host (locally, or through deck's ssh connection to that
// host), so the admin API, which has no authentication, is never on a network.
//
// deck's routes live in one Caddy server per listen address ("deck_10_0_0_5_80"), so
// several balancers (apps, environments) can share a Caddy, each on its own port, or on
// one port with routes that differ in path or host; deck creates the server on its first
// Put, again after Caddy restarted empty, and leaves the other servers alone. Each write
// reloads Caddy's whole configuration, so a Put or a Delete is exactly one write,
// read-modify-write guarded by the Etag of what was read, and a change that changes
// nothing writes nothing.
package caddy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lb"
)

var (
	_ lb.Balancer        = (*Balancer)(nil)
	_ lb.NeighbourReader = (*Balancer)(nil)
)

// maxAttempts bounds the retries of a write that lost a race with another writer (412).
const maxAttempts = 5

// Balancer is one Caddy load balancer.
type Balancer struct {
	spec  manifest.LoadBalancerSpec
	admin *admin
	// serverName and serverPath are deck's server for spec.Listen (serverNameFor).
	serverName, serverPath string
	// mu serializes this process's writes, which would otherwise only refuse each other.
	mu sync.Mutex
}

// New returns the balancer spec describes; dial opens its admin API's unix socket
// (spec.Admin) on its host. New does not connect.
func New(spec manifest.LoadBalancerSpec, dial func(ctx context.Context) (net.Conn, error)) *Balancer {
	name := serverNameFor(spec.Listen)
	return &Balancer{spec: spec, admin: newAdmin(dial), serverName: name, serverPath: serversPath + name}
}

// SocketDial returns a dial function for New that opens path through host, the connection
// to the balancer's host.
func SocketDial(host providers.SocketDialer, path string) func(ctx context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) { return host.DialSocket(ctx, path) }
}

// UnixDial returns a dial function for New that opens the unix socket path on this machine.
func UnixDial(path string) func(ctx context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}
}

// Name returns the balancer's name.
func (b *Balancer) Name() string { return b.spec.Name }

// Close does nothing: the connection to the host belongs to the caller.
func (b *Balancer) Close() error { return nil }

// Routes returns the routes of app and env, by service.
func (b *Balancer) Routes(ctx context.Context, app, env string) (map[string]lb.Route, error) {
	mine, _, err := b.RoutesAndNeighbours(ctx, app, env)
	return mine, err
}

// RoutesAndNeighbours returns the routes of app and env, by service, and those of the other
// apps and environments on this listener, in one read (lb.NeighbourReader).
func (b *Balancer) RoutesAndNeighbours(ctx context.Context, app, env string) (map[string]lb.Route, []lb.Route, error) {
	srv, _, err := b.server(ctx)
	if err != nil {
		return nil, nil, b.fail("reading routes", err)
	}
	if srv == nil {
		return map[string]lb.Route{}, nil, nil
	}
	rs, err := parseRoutes(srv.routes)
	if err == nil {
		mine, others, err := rs.split(app, env, true)
		if err == nil {
			return mine, others, nil
		}
		return nil, nil, b.fail("reading routes", err)
	}
	return nil, nil, b.fail("reading routes", err)
}

// Put creates or replaces r's route in one write.
func (b *Balancer) Put(ctx context.Context, r lb.Route) error {
	op := "putting route " + r.Key()
	if err := r.Check(); err != nil {
		return b.fail(op, err)
	}
	return b.fail(op, b.update(ctx, func(rs *routeSet) error { return rs.put(r) }))
}

// Delete removes a service's route (and its draining addresses) in one write.
func (b *Balancer) Delete(ctx context.Context, app, env, service string) error {
	op := "deleting route " + lb.Route{App: app, Env: env, Service: service}.Key()
	return b.fail(op, b.update(ctx, func(rs *routeSet) error { rs.delete(app, env, service); return nil }))
}

// InFlight returns the requests in flight per upstream address, over every upstream of
// this Caddy (Caddy counts them per address, whichever route sends them).
func (b *Balancer) InFlight(ctx context.Context) (map[string]int, error) {
	body, _, err := b.admin.get(ctx, "/reverse_proxy/upstreams")
	if err != nil {
		return nil, b.fail("reading in-flight requests", err)
	}
	var ups []struct {
		Address     string `json:"address"`
		NumRequests int    `json:"num_requests"`
	}
	if err := json.Unmarshal(body, &ups); err != nil {
		return nil, b.fail("reading in-flight requests", err)
	}
	out := make(map[string]int, len(ups))
	for _, u := range ups {
		out[u.Address] += u.NumRequests
	}
	return out, nil
}

// update applies change to the routes in one write, retrying when another writer changed
// the configuration in between.
func (b *Balancer) update(ctx context.Context, change func(*routeSet) error) error {
	if b.spec.Listen == "" {
		return errors.New("no listen address (host:port) for deck's server")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var err error
	for range maxAttempts {
		if err = b.tryUpdate(ctx, change); !errors.Is(err, errStale) {
			return err
		}
	}
	return fmt.Errorf("%w; gave up after %d attempts", err, maxAttempts)
}

func (b *Balancer) tryUpdate(ctx context.Context, change func(*routeSet) error) error {
	srv, etag, err := b.server(ctx)
	if err != nil {
		return err
	}
	if srv == nil {
		return b.create(ctx, change)
	}
	rs, err := parseRoutes(srv.routes)
	if err != nil {
		return err
	}
	if err := change(rs); err != nil {
		return err
	}
	next := b.serverDoc(srv.doc, rs.list())
	if sameJSON(srv.doc, next) {
		return nil
	}
	return b.admin.write(ctx, "PATCH", b.serverPath, next, etag)
}

// server is deck's server as Caddy holds it.
type server struct {
	doc    map[string]json.RawMessage
	routes []json.RawMessage
}

// server reads deck's server; nil when Caddy has none.
func (b *Balancer) server(ctx context.Context) (*server, string, error) {
	body, etag, err := b.admin.get(ctx, b.serverPath)
	if missing(err) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var s server
	if err := json.Unmarshal(body, &s.doc); err != nil {
		return nil, "", fmt.Errorf("reading server %q: %w", b.serverName, err)
	}
	if s.doc == nil {
		return nil, "", nil
	}
	if raw, ok := s.doc["routes"]; ok {
		if err := json.Unmarshal(raw, &s.routes); err != nil {
			return nil, "", fmt.Errorf("reading server %q's routes: %w", b.serverName, err)
		}
	}
	return &s, etag, nil
}

// serverDoc returns doc (nil: a new server) with deck's settings and the routes. deck
// owns this server, so it resets the listener and automatic HTTPS (off: deck's services
// are plain HTTP behind it) and keeps what else someone added, such as logs.
func (b *Balancer) serverDoc(doc map[string]json.RawMessage, routes []json.RawMessage) map[string]json.RawMessage {
	next := make(map[string]json.RawMessage, len(doc)+3)
	for k, v := range doc {
		next[k] = v
	}
	next["listen"] = mustJSON([]string{b.spec.Listen})
	next["automatic_https"] = mustJSON(map[string]bool{"disable": true})
	next["routes"] = mustJSON(routes)
	return next
}

// create adds deck's server, holding the routes change leaves, in one write of the apps.
// A server of an older deck ("deck", shared by every balancer) that listens on this
// balancer's address is renamed to it in the same write, its routes kept.
func (b *Balancer) create(ctx context.Context, change func(*routeSet) error) error {
	body, etag, err := b.admin.get(ctx, appsPath)
	if err != nil {
		return err
	}
	apps, err := object(body, "apps")
	if err != nil {
		return err
	}
	httpApp, err := object(apps["http"], "apps.http")
	if err != nil {
		return err
	}
	servers, err := object(httpApp["servers"], "apps.http.servers")
	if err != nil {
		return err
	}
	if _, ok := servers[b.serverName]; ok {
		return errStale // created since deck looked
	}
	rs := &routeSet{groups: map[string]*group{}}
	var doc map[string]json.RawMessage
	if legacy, ok := servers[legacyServer]; ok {
		var old server
		if err := json.Unmarshal(legacy, &old.doc); err == nil && sameJSON(old.doc["listen"], mustJSON([]string{b.spec.Listen})) {
			if err := json.Unmarshal(old.doc["routes"], &old.routes); len(old.doc["routes"]) > 0 && err != nil {
				return fmt.Errorf("reading server %q's routes: %w", legacyServer, err)
			}
			if rs, err = parseRoutes(old.routes); err != nil {
				return err
			}
			doc = old.doc
			delete(servers, legacyServer)
		}
	}
	if err := change(rs); err != nil {
		return err
	}
	routes := rs.list()
	if len(routes) == 0 && doc == nil {
		return nil // a delete, and there is nothing to delete
	}
	servers[b.serverName] = mustJSON(b.serverDoc(doc, routes))
	httpApp["servers"] = mustJSON(servers)
	if _, ok := httpApp["grace_period"]; !ok {
		httpApp["grace_period"] = mustJSON(gracePeriod)
	}
	apps["http"] = mustJSON(httpApp)
	// POST sets the key whether or not it exists; the Etag makes it a create-if-unchanged.
	return b.admin.write(ctx, "POST", appsPath, apps, etag)
}

// fail wraps err with the balancer, its host and what deck was doing.
func (b *Balancer) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	where := fmt.Sprintf("caddy load balancer %s on host %s", b.spec.Name, b.spec.Host)
	var ue *unreachableError
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %s: %w: %w; is caddy running on %s with its admin API on unix/%s (\"admin\": {\"listen\": \"unix/%s\"})?",
			where, op, lb.ErrUnreachable, ue.err, b.spec.Host, b.spec.Admin, b.spec.Admin)
	}
	return fmt.Errorf("%s (admin unix/%s): %s: %w", where, b.spec.Admin, op, err)
}

// object decodes a JSON object; null or absent is an empty one.
func object(raw json.RawMessage, what string) (map[string]json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(raw) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	return m, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only deck's own types and raw JSON get here
	}
	return b
}

// sameJSON reports whether a and b encode the same JSON value, whatever the key order.
func sameJSON(a, b any) bool {
	var va, vb any
	return json.Unmarshal(mustJSON(a), &va) == nil && json.Unmarshal(mustJSON(b), &vb) == nil && reflect.DeepEqual(va, vb)
}
