package caddy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/deckhq/deck/providers/lb"
)

const (
	// legacyServer is the one server every balancer on a Caddy once shared, whatever its
	// listen address: a balancer whose own server is missing takes it over when it listens
	// on the balancer's address (serverNameFor).
	legacyServer = "deck"
	serversPath  = "/config/apps/http/servers/"
	appsPath     = "/config/apps"

	// gracePeriod is written to the http app when deck creates its server and the app has
	// none. In Caddy 2.6.2 a reload never cuts in-flight requests whatever this is (the old
	// servers' shutdown context is cancelled as soon as the reload returns, and Go's
	// Server.Shutdown leaves active connections alone); what it bounds is how long a
	// stopping Caddy waits for them. 0 would mean forever, so one stuck client could hold
	// a shutdown; 10 minutes outlasts any request deck's services should have.
	gracePeriod = "10m"

	// neverMatches is a client address no request comes from (the limited broadcast
	// address). The companion route of draining addresses matches it, so they get no
	// request but stay in the configuration and /reverse_proxy/upstreams keeps counting
	// their in-flight requests down; a removed upstream vanishes from it at once.
	neverMatches = "255.255.255.255/32"

	// tryDuration is how long Caddy keeps retrying a request whose connection to a target
	// failed, on other targets (or the same one, if it is the only one), every tryInterval.
	// It covers a target that dies between deck's probe and its removal.
	tryDuration = 5 * time.Second
	tryInterval = 250 * time.Millisecond
	// failDuration is how long a target whose connection failed gets no new request
	// (Caddy's passive health check), so only one request pays tryInterval for a dying
	// target. Shorter than tryDuration: a lone target that blipped serves again before a
	// waiting request gives up.
	failDuration = 2 * time.Second

	idPrefix       = "deck:"
	drainingSuffix = ":draining"
)

// route is one entry of a Caddy server's "routes", as deck writes it.
type route struct {
	ID       string     `json:"@id,omitempty"`
	Match    []matchSet `json:"match,omitempty"`
	Handle   []proxy    `json:"handle"`
	Terminal bool       `json:"terminal,omitempty"`
}

type matchSet struct {
	Host     []string  `json:"host,omitempty"`
	Path     []string  `json:"path,omitempty"`
	RemoteIP *remoteIP `json:"remote_ip,omitempty"`
}

type remoteIP struct {
	Ranges []string `json:"ranges"`
}

// proxy is the reverse_proxy handler.
type proxy struct {
	Handler       string         `json:"handler"`
	Upstreams     []upstream     `json:"upstreams"`
	LoadBalancing *loadBalancing `json:"load_balancing,omitempty"`
	HealthChecks  *healthChecks  `json:"health_checks,omitempty"`
}

type upstream struct {
	Dial string `json:"dial"`
}

type loadBalancing struct {
	SelectionPolicy *selection `json:"selection_policy,omitempty"`
	TryDuration     duration   `json:"try_duration,omitempty"`
	TryInterval     duration   `json:"try_interval,omitempty"`
}

type selection struct {
	Policy string `json:"policy"`
}

type healthChecks struct {
	Active  *activeHealth  `json:"active,omitempty"`
	Passive *passiveHealth `json:"passive,omitempty"`
}

type activeHealth struct {
	URI      string   `json:"uri"`
	Interval duration `json:"interval,omitempty"`
	Timeout  duration `json:"timeout,omitempty"`
}

type passiveHealth struct {
	FailDuration duration `json:"fail_duration,omitempty"`
}

// duration is a Caddy duration: deck writes "1m30s"; Caddy also takes nanoseconds.
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *duration) UnmarshalJSON(b []byte) error {
	var n int64
	if json.Unmarshal(b, &n) == nil {
		*d = duration(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration %s: %w", b, err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

// routeID names a service's route: app, env and service, each escaped so ":" separates
// them without doubt. The draining companion's ID adds drainingSuffix.
func routeID(app, env, service string) string {
	return idPrefix + url.QueryEscape(app) + ":" + url.QueryEscape(env) + ":" + url.QueryEscape(service)
}

// parseID reads a route ID; ok is false for a route that is not deck's.
func parseID(id string) (app, env, service string, draining, ok bool) {
	rest, ok := strings.CutPrefix(id, idPrefix)
	if !ok {
		return "", "", "", false, false
	}
	rest, draining = strings.CutSuffix(rest, drainingSuffix)
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return "", "", "", false, false
	}
	for i, p := range parts {
		if parts[i], ok = unescape(p); !ok {
			return "", "", "", false, false
		}
	}
	return parts[0], parts[1], parts[2], draining, true
}

func unescape(s string) (string, bool) {
	v, err := url.QueryUnescape(s)
	return v, err == nil && v != ""
}

// pathMatch matches the prefix itself and what is below it: "/api" and "/api/...", not
// "/apix". "/" needs no matcher.
func pathMatch(prefix string) []string {
	if prefix == "/" {
		return nil
	}
	return []string{prefix, prefix + "/*"}
}

// toCaddy returns r's route and, when r drains addresses, its never-matching companion.
func toCaddy(r lb.Route) []route {
	id := routeID(r.App, r.Env, r.Service)
	policy := "round_robin"
	if r.Sticky {
		policy = "cookie"
	}
	p := proxy{
		Handler:   "reverse_proxy",
		Upstreams: upstreams(r.Targets),
		LoadBalancing: &loadBalancing{SelectionPolicy: &selection{Policy: policy},
			TryDuration: duration(tryDuration), TryInterval: duration(tryInterval)},
		HealthChecks: &healthChecks{Passive: &passiveHealth{FailDuration: duration(failDuration)}},
	}
	if r.Health.Path != "" {
		p.HealthChecks.Active = &activeHealth{URI: r.Health.Path,
			Interval: duration(r.Health.Interval), Timeout: duration(r.Health.Timeout)}
	}
	main := route{ID: id, Handle: []proxy{p}, Terminal: true}
	m := matchSet{Host: r.Hosts, Path: pathMatch(r.Path)}
	if r.Withdrawn {
		// Its matcher also needs a client address no request comes from: it matches no
		// request, which go on to the next route, not to a route with no target (503).
		m.RemoteIP = &remoteIP{Ranges: []string{neverMatches}}
	}
	if m.Host != nil || m.Path != nil || m.RemoteIP != nil {
		main.Match = []matchSet{m}
	}
	out := []route{main}
	if len(r.Draining) > 0 {
		out = append(out, route{ID: id + drainingSuffix,
			Match:    []matchSet{{RemoteIP: &remoteIP{Ranges: []string{neverMatches}}}},
			Handle:   []proxy{{Handler: "reverse_proxy", Upstreams: upstreams(r.Draining)}},
			Terminal: true})
	}
	return out
}

func upstreams(addrs []string) []upstream {
	out := make([]upstream, len(addrs))
	for i, a := range addrs {
		out[i] = upstream{Dial: a}
	}
	return out
}

// fromCaddy reads a service's route back from its main route (and companion, if any).
func fromCaddy(app, env, service string, main route, companion *route) (lb.Route, error) {
	r := lb.Route{App: app, Env: env, Service: service, Path: "/"}
	if len(main.Handle) != 1 || main.Handle[0].Handler != "reverse_proxy" || len(main.Match) > 1 {
		return r, fmt.Errorf("route %s is not one deck writes (one reverse_proxy handler, at most one matcher set); delete it or let deck put it again", main.ID)
	}
	if len(main.Match) == 1 {
		r.Hosts = main.Match[0].Host
		if paths := main.Match[0].Path; len(paths) > 0 {
			r.Path = paths[0]
		}
		r.Withdrawn = main.Match[0].RemoteIP != nil
	}
	p := main.Handle[0]
	r.Targets = dials(p.Upstreams)
	if lbp := p.LoadBalancing; lbp != nil && lbp.SelectionPolicy != nil {
		r.Sticky = lbp.SelectionPolicy.Policy == "cookie"
	}
	if hc := p.HealthChecks; hc != nil && hc.Active != nil {
		r.Health = lb.HealthCheck{Path: hc.Active.URI, Interval: time.Duration(hc.Active.Interval), Timeout: time.Duration(hc.Active.Timeout)}
	}
	if companion != nil {
		for _, h := range companion.Handle {
			r.Draining = append(r.Draining, dials(h.Upstreams)...)
		}
	}
	return r, nil
}

// dials returns the upstreams' addresses, nil for none (as lb.Route holds them).
func dials(us []upstream) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Dial)
	}
	return out
}

// serverNameFor names the Caddy server that holds deck's routes on listen: one server per
// listen address, so balancers of several apps or environments on one Caddy, each on its
// own port, do not move each other's listener (deck leaves every other server alone).
func serverNameFor(listen string) string {
	var b strings.Builder
	b.WriteString("deck_")
	for _, r := range listen {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
