package testhosts

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUpDown(t *testing.T) {
	Require(t)
	start := time.Now()
	env, err := Up(3, 3)
	require.NoError(t, err)
	t.Logf("timing: 3 hosts (one over ssh) up in %v", time.Since(start))
	defer func() { _ = env.Down() }()

	require.Len(t, env.Hosts, 3)
	for i, h := range env.Hosts {
		assert.Equal(t, "h"+string(rune('1'+i)), h.Name)
		assert.Equal(t, "10.77.0.1"+string(rune('1'+i)), h.Address)
		assert.Equal(t, map[string]string{"zone": string(rune('a' + i))}, h.Attributes)
	}
	assert.Equal(t, "unix://"+env.Dir+"/h1/podman.sock", env.Hosts[0].URL)
	assert.Equal(t, "ssh://root@10.77.0.13"+env.Dir+"/h3/podman.sock", env.Hosts[2].URL)
	assert.Equal(t, env.Dir+"/ssh/id_ed25519", env.Hosts[2].Identity)
	assert.Equal(t, env.Dir+"/ssh/known_hosts", env.Hosts[2].KnownHosts)
	assert.Empty(t, env.Hosts[0].Identity)
	assert.Equal(t, env.Hosts[2].Identity, env.Specs()[2].Identity)

	for i := 1; i <= 3; i++ {
		assert.True(t, ping(env.Dir+"/h"+string(rune('0'+i))+"/podman.sock"), "h%d answers", i)
	}
	// The ssh host's sshd listens on its own address only.
	assert.True(t, dials("10.77.0.13:22"))
	require.NoError(t, env.Partition(3))
	assert.False(t, dials("10.77.0.13:22"), "a partitioned host is unreachable")
	require.NoError(t, env.Heal(3))
	// The link is up when Heal returns; the first connection may still wait on the
	// neighbour's address being learnt again, so it gets a few tries.
	assert.Eventually(t, func() bool { return dials("10.77.0.13:22") }, 10*time.Second, 100*time.Millisecond,
		"a healed host is reachable again")

	require.NoError(t, env.Stop(2))
	assert.False(t, ping(env.Dir+"/h2/podman.sock"))
	require.NoError(t, env.Start(2))
	assert.True(t, ping(env.Dir+"/h2/podman.sock"))

	checkLB(t, env)

	// By hand, the script refuses to tear down hosts a test holds.
	out, err := exec.Command("bash", Script(), "down").CombinedOutput()
	assert.Error(t, err)
	assert.Contains(t, string(out), "a test run holds")

	// A second user waits for the first to finish.
	second := make(chan error, 1)
	go func() {
		e, err := Up(1, 0)
		if err == nil {
			err = e.Down()
		}
		second <- err
	}()
	select {
	case err := <-second:
		t.Fatalf("a second Up ran while the hosts were up: %v", err)
	case <-time.After(500 * time.Millisecond):
	}

	require.NoError(t, env.Down())
	require.NoError(t, <-second)
	require.NoError(t, env.Down(), "Down twice")

	_, err = os.Stat(env.Dir)
	assert.True(t, os.IsNotExist(err), "Dir is removed")
	links, _ := exec.Command("ip", "-o", "link").Output()
	assert.NotContains(t, string(links), "deck0")
	assert.NotContains(t, string(links), "deckv")
	netns, _ := exec.Command("ip", "netns", "list").Output()
	assert.NotContains(t, string(netns), "deck-h")
	procs, _ := exec.Command("ps", "-eo", "args").Output()
	for _, p := range strings.Split(string(procs), "\n") {
		assert.NotContains(t, p, env.Dir, "process left behind")
	}
}

// checkLB checks the Caddy that runs in h1's namespace: empty but for its admin API, which
// listens on the unix socket only; stopped, started and restarted empty.
func checkLB(t *testing.T, env *Env) {
	lbDir := env.Dir + "/h1/caddy"
	assert.Equal(t, LB{Name: "edge", Host: "h1", Listen: "10.77.0.11:80", Admin: lbDir + "/admin.sock",
		Log: lbDir + "/caddy.log"}, env.LB)
	emptyConfig := `{"admin": {"listen": "unix/` + env.LB.Admin + `", "config": {"persist": false}}}`
	status, cfg, err := caddyAdmin(env.LB.Admin, "GET", "/config/", "")
	require.NoError(t, err, "caddy's admin API answers")
	assert.Equal(t, 200, status)
	assert.JSONEq(t, emptyConfig, cfg)
	// /proc/PID/net lists the sockets of the process's network namespace: h1's.
	assert.Empty(t, tcpListeners(t, lbDir), "nothing in h1 listens on TCP, the admin API included")
	assert.False(t, dials(env.LB.Listen), "no server until deck creates one")

	require.NoError(t, env.StopLB())
	_, _, err = caddyAdmin(env.LB.Admin, "GET", "/config/", "")
	assert.Error(t, err, "a stopped caddy does not answer")
	require.NoError(t, env.StartLB())
	status, _, err = caddyAdmin(env.LB.Admin, "POST", "/config/apps",
		`{"http": {"servers": {"s": {"listen": ["`+env.LB.Listen+`"]}}}}`)
	require.NoError(t, err)
	require.Equal(t, 200, status)
	assert.True(t, dials(env.LB.Listen), "a server caddy was given listens on h1's address")
	assert.Len(t, tcpListeners(t, lbDir), 1, "h1's listeners are seen")
	require.NoError(t, env.RestartLB())
	_, cfg, err = caddyAdmin(env.LB.Admin, "GET", "/config/", "")
	require.NoError(t, err)
	assert.JSONEq(t, emptyConfig, cfg, "a restarted caddy is empty")
	assert.False(t, dials(env.LB.Listen))
}

// caddyAdmin sends one request to Caddy's admin API, with the empty Host header Caddy
// 2.6.2 wants on a unix socket (net/http always sends one).
func caddyAdmin(socket, method, path, body string) (int, string, error) {
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: \r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		method, path, len(body), body)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), err
}

// tcpListeners returns the local addresses (hex, as /proc shows them) of the listening TCP
// sockets in the network namespace of the Caddy whose pid file is in lbDir.
func tcpListeners(t *testing.T, lbDir string) []string {
	data, err := os.ReadFile(lbDir + "/caddy.pid")
	require.NoError(t, err)
	pid := strings.TrimSpace(string(data))
	var out []string
	for _, f := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile("/proc/" + pid + "/net/" + f)
		require.NoError(t, err)
		for _, line := range strings.Split(string(data), "\n")[1:] {
			if fields := strings.Fields(line); len(fields) > 3 && fields[3] == "0A" {
				out = append(out, fields[1])
			}
		}
	}
	return out
}

func ping(socket string) bool {
	c := http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		Dial: func(_, _ string) (net.Conn, error) { return net.Dial("unix", socket) },
	}}
	resp, err := c.Get("http://d/v4.0.0/libpod/_ping")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func dials(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// A throwaway etcd answers at the URL StartEtcd returns, and is gone when its test ends.
func TestStartEtcd(t *testing.T) {
	var url string
	t.Run("running", func(t *testing.T) {
		url = StartEtcd(t)
		require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)
		resp, err := http.Get(url + "/health")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Contains(t, string(body), `"health":"true"`)
	})
	_, err := http.Get(url + "/health")
	assert.Error(t, err, "stopped when the test that started it ended")
}
