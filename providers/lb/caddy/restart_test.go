package caddy

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lb"
	"github.com/deckhq/deck/providers/lb/lbtest"
)

// TestRestartedEmpty: after Caddy restarts with an empty configuration, Routes reads
// nothing (so the planner sees the routes missing) and a Put creates deck's server again.
func TestRestartedEmpty(t *testing.T) {
	e := hosts(t)
	b, writes := balancer(t, UnixDial(e.LB.Admin))
	ln, err := listenBackend()
	require.NoError(t, err)
	backend := lbtest.StartBackend(t, ln)
	r := lb.Route{App: "rst", Env: "test", Service: "web", Path: "/", Hosts: []string{"rst.test"}, Targets: []string{backend.Addr}}
	require.NoError(t, b.Put(testCtx(t), r))
	t.Cleanup(func() { _ = b.Delete(testCtx(t), "rst", "test", "web") })
	assert.Equal(t, backend.Addr, getBody(t, "http://"+e.LB.Listen+"/", "rst.test"))

	require.NoError(t, e.RestartLB())
	got, err := b.Routes(testCtx(t), "rst", "test")
	require.NoError(t, err)
	assert.Empty(t, got, "a restarted caddy holds no route")
	before := writes()
	require.NoError(t, b.Delete(testCtx(t), "rst", "test", "web"), "deleting from a caddy without deck's server")
	assert.Equal(t, before, writes(), "nothing to delete, nothing written")

	require.NoError(t, b.Put(testCtx(t), r))
	assert.Equal(t, before+1, writes(), "the server and its route come back in one write")
	got, err = b.Routes(testCtx(t), "rst", "test")
	require.NoError(t, err)
	assert.Equal(t, map[string]lb.Route{"web": r}, got)
	assert.Equal(t, backend.Addr, getBody(t, "http://"+e.LB.Listen+"/", "rst.test"))
	assert.JSONEq(t, `"10m"`, string(adminGet(t, b, "/config/apps/http/grace_period")), "the grace period is set with the server")
}

// TestStopped: a stopped Caddy makes every call fail at once with an error that says
// which balancer, where its socket is and what to check.
func TestStopped(t *testing.T) {
	e := hosts(t)
	b, _ := balancer(t, UnixDial(e.LB.Admin))
	require.NoError(t, e.StopLB())
	t.Cleanup(func() { require.NoError(t, e.StartLB()) })
	start := time.Now()
	err := b.Put(testCtx(t), lb.Route{App: "stp", Env: "test", Service: "web", Path: "/"})
	assert.Less(t, time.Since(start), time.Second)
	require.ErrorIs(t, err, lb.ErrUnreachable)
	assert.EqualError(t, err, "caddy load balancer edge on host h1: putting route stp/test/web: admin API unreachable: dial unix "+
		e.LB.Admin+": connect: no such file or directory; is caddy running on h1 with its admin API on unix/"+e.LB.Admin+
		` ("admin": {"listen": "unix/`+e.LB.Admin+`"})?`)
}

// TestLeavesOthersAlone: other servers, and routes in deck's server that are not deck's,
// stay as they are; an http app's own grace period is kept.
func TestLeavesOthersAlone(t *testing.T) {
	e := hosts(t)
	require.NoError(t, e.RestartLB())
	b, _ := balancer(t, UnixDial(e.LB.Admin))
	other := `{"http": {"grace_period": "1m", "servers": {"other": {"listen": [":8081"], "routes": [{"handle": [{"handler": "static_response", "body": "other"}]}]}}}}`
	require.NoError(t, b.admin.write(testCtx(t), "POST", appsPath, json.RawMessage(other), ""))

	r := lb.Route{App: "oth", Env: "test", Service: "web", Path: "/", Targets: []string{"127.0.0.1:1"}}
	require.NoError(t, b.Put(testCtx(t), r), "creating deck's server next to another")
	foreign := `{"@id": "mine", "match": [{"path": ["/mine"]}], "handle": [{"handler": "static_response", "body": "mine"}]}`
	require.NoError(t, b.admin.write(testCtx(t), "POST", b.serverPath+"/routes", json.RawMessage(foreign), ""))
	r2 := lb.Route{App: "oth", Env: "test", Service: "api", Path: "/api", Targets: []string{"127.0.0.1:2"}}
	require.NoError(t, b.Put(testCtx(t), r2))
	require.NoError(t, b.Delete(testCtx(t), "oth", "test", "web"))
	require.NoError(t, b.Delete(testCtx(t), "oth", "test", "api"))

	assert.JSONEq(t, `{"listen": [":8081"], "routes": [{"handle": [{"handler": "static_response", "body": "other"}]}]}`,
		string(adminGet(t, b, "/config/apps/http/servers/other")))
	assert.JSONEq(t, `"1m"`, string(adminGet(t, b, "/config/apps/http/grace_period")))
	assert.JSONEq(t, "["+foreign+"]", string(adminGet(t, b, b.serverPath+"/routes")), "the foreign route outlives deck's")
	require.NoError(t, e.RestartLB())
}

func adminGet(t *testing.T, b *Balancer, path string) json.RawMessage {
	t.Helper()
	body, _, err := b.admin.get(testCtx(t), path)
	require.NoError(t, err)
	return body
}

func getBody(t *testing.T, url, host string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Host = host
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, "GET %s (host %s): %s", url, host, body)
	return string(body)
}

// TestStoppedOverSSH: through the ssh connection to a host, a stopped Caddy is as plainly
// unreachable.
func TestStoppedOverSSH(t *testing.T) {
	e := hosts(t)
	b, _ := balancer(t, SocketDial(sshHost.(providers.SocketDialer), e.LB.Admin))
	require.NoError(t, e.StopLB())
	t.Cleanup(func() { require.NoError(t, e.StartLB()) })
	_, err := b.Routes(testCtx(t), "stp", "test")
	require.ErrorIs(t, err, lb.ErrUnreachable)
	assert.ErrorContains(t, err, "caddy load balancer edge on host h1: reading routes: admin API unreachable: ")
	assert.ErrorContains(t, err, "is caddy running on h1 with its admin API on unix/"+e.LB.Admin)
}

// TestTwoListenAddressesOnOneCaddy: two balancers (two apps, or two environments) on one
// Caddy, each on its own port, each keep their own listener and routes. They once shared
// one server, and each write moved its listener to the writer's port: the other's clients
// were refused.
func TestTwoListenAddressesOnOneCaddy(t *testing.T) {
	e := hosts(t)
	spec := e.LB.Spec()
	host, _, err := net.SplitHostPort(spec.Listen)
	require.NoError(t, err)
	other := spec
	other.Name, other.Listen = "edge-8088", net.JoinHostPort(host, "8088")
	a, _ := balancer(t, UnixDial(e.LB.Admin))
	b := New(other, UnixDial(e.LB.Admin))
	ln, err := listenBackend()
	require.NoError(t, err)
	backend := lbtest.StartBackend(t, ln)
	ra := lb.Route{App: "two", Env: "a", Service: "web", Path: "/", Hosts: []string{"two.test"}, Targets: []string{backend.Addr}}
	rb := lb.Route{App: "two", Env: "b", Service: "web", Path: "/", Hosts: []string{"two.test"}, Targets: []string{backend.Addr}}
	require.NoError(t, a.Put(testCtx(t), ra))
	t.Cleanup(func() { _ = a.Delete(testCtx(t), "two", "a", "web") })
	require.NoError(t, b.Put(testCtx(t), rb), "the same host and path on another port take other requests")
	t.Cleanup(func() { _ = b.Delete(testCtx(t), "two", "b", "web") })

	assert.Equal(t, backend.Addr, getBody(t, "http://"+spec.Listen+"/", "two.test"), "the first balancer still answers on its port")
	assert.Equal(t, backend.Addr, getBody(t, "http://"+other.Listen+"/", "two.test"))
	got, err := b.Routes(testCtx(t), "two", "a")
	require.NoError(t, err)
	assert.Empty(t, got, "each balancer reads the routes of its own listen address")
	_, neighbours, err := a.RoutesAndNeighbours(testCtx(t), "two", "a")
	require.NoError(t, err)
	for _, n := range neighbours {
		assert.NotEqual(t, "two", n.App, "the other listener's route is no neighbour: it takes other requests")
	}
}
