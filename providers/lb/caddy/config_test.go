package caddy

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers/lb"
)

func TestRouteID(t *testing.T) {
	id := routeID("shop", "prod", "web")
	assert.Equal(t, "deck:shop:prod:web", id)
	for _, c := range []struct {
		id                string
		app, env, service string
		draining, ok      bool
	}{
		{id: id, app: "shop", env: "prod", service: "web", ok: true},
		{id: id + drainingSuffix, app: "shop", env: "prod", service: "web", draining: true, ok: true},
		{id: routeID("a:b", "c d", "e%f"), app: "a:b", env: "c d", service: "e%f", ok: true},
		{id: "mine"},
		{id: ""},
		{id: "deck:a:b"},
		{id: "deck:a::c"},
		{id: "deck:a:b:c:d"},
	} {
		app, env, service, draining, ok := parseID(c.id)
		assert.Equal(t, []any{c.app, c.env, c.service, c.draining, c.ok}, []any{app, env, service, draining, ok}, c.id)
	}
}

// TestToCaddy pins the configuration deck writes for a route.
func TestToCaddy(t *testing.T) {
	r := lb.Route{App: "shop", Env: "prod", Service: "api", Path: "/api", Hosts: []string{"shop.test"},
		Targets: []string{"10.0.0.1:80", "10.0.0.2:80"}, Draining: []string{"10.0.0.3:80"}, Sticky: true,
		Health: lb.HealthCheck{Path: "/health", Interval: 5 * time.Second, Timeout: time.Second}}
	got, err := json.Marshal(toCaddy(r))
	require.NoError(t, err)
	assert.JSONEq(t, `[
	{"@id": "deck:shop:prod:api",
	 "match": [{"host": ["shop.test"], "path": ["/api", "/api/*"]}],
	 "handle": [{"handler": "reverse_proxy",
	   "upstreams": [{"dial": "10.0.0.1:80"}, {"dial": "10.0.0.2:80"}],
	   "load_balancing": {"selection_policy": {"policy": "cookie"}, "try_duration": "5s", "try_interval": "250ms"},
	   "health_checks": {"active": {"uri": "/health", "interval": "5s", "timeout": "1s"}, "passive": {"fail_duration": "2s"}}}],
	 "terminal": true},
	{"@id": "deck:shop:prod:api:draining",
	 "match": [{"remote_ip": {"ranges": ["255.255.255.255/32"]}}],
	 "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "10.0.0.3:80"}]}],
	 "terminal": true}]`, string(got))

	plain, err := json.Marshal(toCaddy(lb.Route{App: "shop", Env: "prod", Service: "web", Path: "/"}))
	require.NoError(t, err)
	assert.JSONEq(t, `[{"@id": "deck:shop:prod:web",
	 "handle": [{"handler": "reverse_proxy", "upstreams": [],
	   "load_balancing": {"selection_policy": {"policy": "round_robin"}, "try_duration": "5s", "try_interval": "250ms"},
	   "health_checks": {"passive": {"fail_duration": "2s"}}}],
	 "terminal": true}]`, string(plain), "no matcher for /, round robin, no active check, no companion")
}

// TestRouteOrder: routes by their hosts (exact names, then mixed, then wildcards only,
// then none), then the longest prefix; other routes last.
func TestRouteOrder(t *testing.T) {
	foreign := json.RawMessage(`{"handle": [{"handler": "static_response"}]}`)
	rs, err := parseRoutes([]json.RawMessage{foreign})
	require.NoError(t, err)
	for _, r := range []lb.Route{
		{Service: "root", Path: "/"},
		{Service: "api", Path: "/api", Draining: []string{"10.0.0.9:80"}},
		{Service: "apiv2", Path: "/api/v2"},
		{Service: "admin", Path: "/", Hosts: []string{"admin.test"}},
		{Service: "adminapi", Path: "/api", Hosts: []string{"admin.test"}},
		{Service: "aaa", Path: "/"},
		{Service: "anysub", Path: "/api/v2", Hosts: []string{"*.test"}},
		{Service: "mixed", Path: "/", Hosts: []string{"*.other", "mixed.test"}},
		{Service: "zexact", Path: "/", Hosts: []string{"x.test"}},
	} {
		r.App, r.Env = "a", "e"
		require.NoError(t, rs.put(r))
	}
	var ids []string
	for _, raw := range rs.list() {
		var h header
		require.NoError(t, json.Unmarshal(raw, &h))
		ids = append(ids, h.ID)
	}
	// x.test goes to zexact, not to anysub's *.test, though anysub's path is longer and
	// its name comes first.
	assert.Equal(t, []string{"deck:a:e:adminapi", "deck:a:e:admin", "deck:a:e:zexact", "deck:a:e:mixed",
		"deck:a:e:anysub", "deck:a:e:apiv2", "deck:a:e:api", "deck:a:e:api:draining", "deck:a:e:aaa", "deck:a:e:root", ""}, ids)

	// Read back from the JSON, the order is the same.
	again, err := parseRoutes(rs.list())
	require.NoError(t, err)
	assert.Equal(t, rs.list(), again.list())
}

func TestDuration(t *testing.T) {
	var d struct {
		A, B duration
	}
	require.NoError(t, json.Unmarshal([]byte(`{"A": "1m30s", "B": 250000000}`), &d))
	assert.Equal(t, duration(90*time.Second), d.A)
	assert.Equal(t, duration(250*time.Millisecond), d.B)
	assert.Error(t, json.Unmarshal([]byte(`{"A": "soon"}`), &d))
	b, err := json.Marshal(duration(1500 * time.Millisecond))
	require.NoError(t, err)
	assert.Equal(t, `"1.5s"`, string(b))
}

// TestFromCaddyRefusesForeignShapes: a deck route someone edited into a shape deck does
// not write is reported, not misread.
func TestFromCaddyRefusesForeignShapes(t *testing.T) {
	raw := json.RawMessage(`{"@id": "deck:a:e:web", "handle": [{"handler": "static_response"}]}`)
	rs, err := parseRoutes([]json.RawMessage{raw})
	require.NoError(t, err)
	_, _, err = rs.split("a", "e", false)
	assert.ErrorContains(t, err, "route deck:a:e:web is not one deck writes")
}

// A withdrawn route (a deleted service draining) matches no request, so requests go on to
// the routes after it, and reads back as withdrawn, with its draining addresses.
func TestWithdrawnRoute(t *testing.T) {
	r := lb.Route{App: "shop", Env: "prod", Service: "api", Path: "/api", Draining: []string{"10.0.0.3:80"}, Withdrawn: true}
	rs := toCaddy(r)
	require.Len(t, rs, 2)
	require.Len(t, rs[0].Match, 1)
	assert.Equal(t, []string{"/api", "/api/*"}, rs[0].Match[0].Path)
	assert.Equal(t, &remoteIP{Ranges: []string{neverMatches}}, rs[0].Match[0].RemoteIP, "the main route matches no client")
	back, err := fromCaddy("shop", "prod", "api", rs[0], &rs[1])
	require.NoError(t, err)
	assert.Equal(t, r, back)

	rsPlain := toCaddy(lb.Route{App: "shop", Env: "prod", Service: "web", Path: "/", Withdrawn: true})
	require.Len(t, rsPlain[0].Match, 1, "a withdrawn / route needs a matcher too")
	back, err = fromCaddy("shop", "prod", "web", rsPlain[0], nil)
	require.NoError(t, err)
	assert.True(t, back.Withdrawn)

	_, clash := lb.Route{Path: "/api"}.Overlap(r)
	assert.False(t, clash, "a withdrawn route takes no request: no other route clashes with it")
}
