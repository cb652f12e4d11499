package caddy

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/lb"
)

// fakeAdmin plays Caddy's admin API on a unix socket, as far as these tests need: each
// request is answered by the next function of answers.
type fakeAdmin struct {
	t       *testing.T
	socket  string
	mu      sync.Mutex
	answers []func(w http.ResponseWriter, r *http.Request, body []byte)
	seen    []string // "METHOD path If-Match"
}

func newFakeAdmin(t *testing.T, answers ...func(w http.ResponseWriter, r *http.Request, body []byte)) *fakeAdmin {
	f := &fakeAdmin{t: t, socket: filepath.Join(t.TempDir(), "admin.sock"), answers: answers}
	ln, err := net.Listen("unix", f.socket)
	require.NoError(t, err)
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return f
}

func (f *fakeAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.seen = append(f.seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("If-Match"))
	if r.Host != "" {
		f.mu.Unlock()
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"error":"host not allowed: `+r.Host+`"}`)
		return
	}
	if len(f.answers) == 0 {
		f.mu.Unlock()
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
		return
	}
	answer := f.answers[0]
	f.answers = f.answers[1:]
	f.mu.Unlock()
	answer(w, r, body)
}

func (f *fakeAdmin) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// config answers a GET with body and its Etag as a trailer, as Caddy does.
func config(body, etag string) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Trailer", "Etag")
		_, _ = io.WriteString(w, body)
		w.Header().Set("Etag", `"`+r.URL.Path+" "+etag+`"`)
	}
}

func status(code int, msg string) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.WriteHeader(code)
		if msg != "" {
			_, _ = io.WriteString(w, `{"error":"`+msg+`"}`)
		}
	}
}

var testSpec = manifest.LoadBalancerSpec{Name: "edge", Host: "h1", Provider: "caddy", Listen: "10.0.0.1:80", Admin: "/run/caddy/admin.sock"}

func fakeBalancer(f *fakeAdmin) *Balancer { return New(testSpec, UnixDial(f.socket)) }

// testServerPath is deck's server of testSpec's listen address.
const testServerPath = "/config/apps/http/servers/deck_10_0_0_1_80"

var webRoute = lb.Route{App: "a", Env: "e", Service: "web", Path: "/", Targets: []string{"10.0.0.2:80"}}

const deckServer = `{"listen": ["10.0.0.1:80"], "automatic_https": {"disable": true}, "routes": []}`

// TestPutRetriesStaleWrites: a write refused because the configuration changed since it
// was read (412) is done again from a fresh read, with the new Etag.
func TestPutRetriesStaleWrites(t *testing.T) {
	f := newFakeAdmin(t,
		config(deckServer, "1"),
		status(http.StatusPreconditionFailed, "If-Match header did not match current config hash"),
		config(deckServer, "2"),
		status(http.StatusOK, ""),
	)
	require.NoError(t, fakeBalancer(f).Put(context.Background(), webRoute))
	assert.Equal(t, []string{
		"GET " + testServerPath + " ",
		"PATCH " + testServerPath + ` "` + testServerPath + ` 1"`,
		"GET " + testServerPath + " ",
		"PATCH " + testServerPath + ` "` + testServerPath + ` 2"`,
	}, f.requests())
}

func TestPutGivesUpOnConstantConflicts(t *testing.T) {
	var answers []func(http.ResponseWriter, *http.Request, []byte)
	for range maxAttempts {
		answers = append(answers, config(deckServer, "x"), status(http.StatusPreconditionFailed, "If-Match header did not match current config hash"))
	}
	f := newFakeAdmin(t, answers...)
	err := fakeBalancer(f).Put(context.Background(), webRoute)
	assert.EqualError(t, err, "caddy load balancer edge on host h1 (admin unix//run/caddy/admin.sock): putting route a/e/web: "+
		"the configuration changed while deck was changing it; gave up after 5 attempts")
	assert.Len(t, f.requests(), 2*maxAttempts)
}

// TestCaddyErrorsAreQuoted: an admin error carries Caddy's own message.
func TestCaddyErrorsAreQuoted(t *testing.T) {
	f := newFakeAdmin(t, config(deckServer, "1"),
		status(http.StatusBadRequest, "loading new config: http app module: start: listening on 10.0.0.1:80: address already in use"))
	err := fakeBalancer(f).Put(context.Background(), webRoute)
	assert.EqualError(t, err, "caddy load balancer edge on host h1 (admin unix//run/caddy/admin.sock): putting route a/e/web: "+
		"PATCH "+testServerPath+": 400 Bad Request: loading new config: http app module: start: listening on 10.0.0.1:80: address already in use")
	assert.NotErrorIs(t, err, lb.ErrUnreachable)
}

// TestCreateServer: without deck's server, a Put writes it, with the grace period, in one
// conditional write of the apps, leaving the other apps as they are.
func TestCreateServer(t *testing.T) {
	var written map[string]any
	f := newFakeAdmin(t,
		status(http.StatusBadRequest, "invalid traversal path at: config/apps/http"),
		config(`{"tls": {"automation": {}}}`, "7"),
		func(w http.ResponseWriter, _ *http.Request, body []byte) {
			assert.NoError(t, json.Unmarshal(body, &written))
		},
	)
	require.NoError(t, fakeBalancer(f).Put(context.Background(), webRoute))
	assert.Equal(t, []string{"GET " + testServerPath + " ", "GET " + appsPath + " ", "POST " + appsPath + ` "` + appsPath + ` 7"`}, f.requests())
	routes, err := json.Marshal(toCaddy(webRoute))
	require.NoError(t, err)
	want := `{"tls": {"automation": {}}, "http": {"grace_period": "10m", "servers": {"deck_10_0_0_1_80":
		{"listen": ["10.0.0.1:80"], "automatic_https": {"disable": true}, "routes": ` + string(routes) + `}}}}`
	got, err := json.Marshal(written)
	require.NoError(t, err)
	assert.JSONEq(t, want, string(got))
}

// TestNoOpWritesNothing: putting the route Caddy already holds makes no write (no reload,
// which would close websockets).
func TestNoOpWritesNothing(t *testing.T) {
	routes, err := json.Marshal(toCaddy(webRoute))
	require.NoError(t, err)
	// As Caddy returns it: its own key order and formatting.
	var v any
	require.NoError(t, json.Unmarshal([]byte(`{"routes": `+string(routes)+`, "automatic_https": {"disable": true}, "listen": ["10.0.0.1:80"]}`), &v))
	held, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	f := newFakeAdmin(t, config(string(held), "1"))
	require.NoError(t, fakeBalancer(f).Put(context.Background(), webRoute))
	assert.Equal(t, []string{"GET " + testServerPath + " "}, f.requests())
}

// TestHungAdminEndsAtDeadline: an admin socket that accepts but never answers ends the
// call at the context's deadline, as unreachable.
func TestHungAdminEndsAtDeadline(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", socket)
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = New(testSpec, UnixDial(socket)).InFlight(ctx)
	assert.ErrorIs(t, err, lb.ErrUnreachable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestNoListenAddress(t *testing.T) {
	f := newFakeAdmin(t)
	spec := testSpec
	spec.Listen = ""
	err := New(spec, UnixDial(f.socket)).Put(context.Background(), webRoute)
	assert.ErrorContains(t, err, "putting route a/e/web: no listen address (host:port) for deck's server")
	assert.Empty(t, f.requests())
}

// An older deck kept every balancer's routes in one server, "deck". Where it listens on
// this balancer's address, the first write renames it to this balancer's server, its
// routes kept; a "deck" server on another address is another balancer's, left alone.
func TestCreateServerTakesOverTheOlderServerOfItsAddress(t *testing.T) {
	api := lb.Route{App: "a", Env: "e", Service: "api", Path: "/api", Targets: []string{"10.0.0.3:80"}}
	apiJSON, err := json.Marshal(toCaddy(api))
	require.NoError(t, err)
	for _, tc := range []struct {
		listen string
		want   []string // servers after the write
	}{
		{"10.0.0.1:80", []string{"deck_10_0_0_1_80"}},
		{"10.0.0.1:8088", []string{"deck", "deck_10_0_0_1_80"}},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			var written struct {
				HTTP struct {
					Servers map[string]struct {
						Listen []string          `json:"listen"`
						Routes []json.RawMessage `json:"routes"`
					} `json:"servers"`
				} `json:"http"`
			}
			f := newFakeAdmin(t,
				status(http.StatusBadRequest, "invalid traversal path at: config/apps/http/servers/deck_10_0_0_1_80"),
				config(`{"http": {"servers": {"deck": {"listen": ["`+tc.listen+`"], "routes": `+string(apiJSON)+`}}}}`, "7"),
				func(w http.ResponseWriter, _ *http.Request, body []byte) {
					assert.NoError(t, json.Unmarshal(body, &written))
				},
			)
			require.NoError(t, fakeBalancer(f).Put(context.Background(), webRoute))
			assert.ElementsMatch(t, tc.want, slices.Collect(maps.Keys(written.HTTP.Servers)))
			mine := written.HTTP.Servers["deck_10_0_0_1_80"]
			assert.Equal(t, []string{"10.0.0.1:80"}, mine.Listen)
			if tc.listen == testSpec.Listen {
				assert.Len(t, mine.Routes, 2, "api's route moved over with its server, beside web's")
			} else {
				assert.Len(t, mine.Routes, 1, "web's route only")
				assert.Equal(t, []string{tc.listen}, written.HTTP.Servers["deck"].Listen, "the other balancer's server is as it was")
			}
		})
	}
}

// Two environments' balancers on one Caddy and one listen address: a route that would take
// the very requests the other's takes is refused, and nothing is written.
func TestRouteOfAnotherEnvironmentMatchingTheSameRequestsIsRefused(t *testing.T) {
	prod := lb.Route{App: "a", Env: "prod", Service: "web", Path: "/", Targets: []string{"10.0.0.3:80"}}
	prodJSON, err := json.Marshal(toCaddy(prod))
	require.NoError(t, err)
	held := `{"listen": ["10.0.0.1:80"], "automatic_https": {"disable": true}, "routes": ` + string(prodJSON) + `}`
	f := newFakeAdmin(t, config(held, "1"))
	qa := lb.Route{App: "a", Env: "qa", Service: "web", Path: "/", Targets: []string{"10.0.0.4:80"}}
	err = fakeBalancer(f).Put(context.Background(), qa)
	require.ErrorIs(t, err, lb.ErrRouteClash)
	assert.Contains(t, err.Error(), "the route of app a, environment prod, service web on this listen address takes the same requests (any host, any path)")
	assert.Equal(t, []string{"GET " + testServerPath + " "}, f.requests(), "nothing written")

	// With a host of its own, it takes other requests: accepted.
	f = newFakeAdmin(t, config(held, "1"), status(http.StatusOK, ""))
	qa.Hosts = []string{"qa.example.com"}
	require.NoError(t, fakeBalancer(f).Put(context.Background(), qa))

	// One host name in common is a clash: its requests go to one of the two.
	prod.Hosts = []string{"shop.example.com"}
	prodJSON, err = json.Marshal(toCaddy(prod))
	require.NoError(t, err)
	f = newFakeAdmin(t, config(`{"listen": ["10.0.0.1:80"], "routes": `+string(prodJSON)+`}`, "1"))
	qa.Hosts = []string{"qa.example.com", "Shop.Example.com"}
	err = fakeBalancer(f).Put(context.Background(), qa)
	require.ErrorIs(t, err, lb.ErrRouteClash)
	assert.Contains(t, err.Error(), "(host shop.example.com, any path)")
}

// One read gives the routes of an app and environment, and those of the others on the
// listener, for the planner to refuse a clash before anything changes.
func TestRoutesAndNeighboursInOneRead(t *testing.T) {
	prod := lb.Route{App: "a", Env: "prod", Service: "web", Path: "/", Targets: []string{"10.0.0.3:80"}}
	qa := lb.Route{App: "a", Env: "qa", Service: "web", Path: "/", Hosts: []string{"qa.example.com"}, Targets: []string{"10.0.0.4:80"}}
	var routes []json.RawMessage
	for _, r := range []lb.Route{prod, qa} {
		for _, cr := range toCaddy(r) {
			b, err := json.Marshal(cr)
			require.NoError(t, err)
			routes = append(routes, b)
		}
	}
	all, err := json.Marshal(routes)
	require.NoError(t, err)
	f := newFakeAdmin(t, config(`{"listen": ["10.0.0.1:80"], "routes": `+string(all)+`}`, "1"))
	mine, others, err := fakeBalancer(f).RoutesAndNeighbours(context.Background(), "a", "qa")
	require.NoError(t, err)
	assert.Equal(t, map[string]lb.Route{"web": qa}, mine)
	assert.Equal(t, []lb.Route{prod}, others)
	assert.Len(t, f.requests(), 1, "one read")
}
