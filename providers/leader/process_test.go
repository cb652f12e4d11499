package leader_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers/leader"
	"github.com/deckhq/deck/testhosts"
)

// The process tests run a leader in a child process (this test binary, re-executed), so
// that it can really be killed (SIGKILL) or stopped (SIGSTOP). The child campaigns,
// prints "leading EPOCH", then every 10ms "check T ok" or "check T failed: ERR", T being
// when it called Check (Unix nanoseconds, taken before the call).

const childEnv = "DECK_LEADER_CHILD" // the child's elector: etcd or hosts

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

func runChild() int {
	ttl, _ := time.ParseDuration(os.Getenv("DECK_LEADER_TTL"))
	o := leader.Options{TTL: ttl, Who: who("child")}
	var e leader.Elector
	var err error
	switch os.Getenv(childEnv) {
	case "etcd":
		e, err = leader.NewEtcd([]string{os.Getenv("DECK_LEADER_ENDPOINT")}, "shop", "prod", o)
	case "hosts":
		e, err = childHostsElector(os.Getenv("DECK_LEADER_HOSTS_FILE"), o)
	}
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	term, err := e.Campaign(context.Background())
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("leading", term.Epoch())
	for {
		t0 := time.Now()
		if err := term.Check(); err != nil {
			fmt.Printf("check %d failed: %v\n", t0.UnixNano(), err)
		} else {
			fmt.Printf("check %d ok\n", t0.UnixNano())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// child is a leader process started by a test.
type child struct {
	cmd   *exec.Cmd
	lines chan string
}

func startChild(t *testing.T, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	c := &child{cmd: cmd, lines: make(chan string, 1<<16)}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	return c
}

// epoch waits for the child to lead and returns its epoch.
func (c *child) epoch(t *testing.T, timeout time.Duration) uint64 {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-c.lines:
			require.True(t, ok, "the child exited before leading")
			if e, found := strings.CutPrefix(l, "leading "); found {
				n, err := strconv.ParseUint(e, 10, 64)
				require.NoError(t, err)
				return n
			}
			require.NotContains(t, l, "error:")
		case <-deadline:
			t.Fatalf("the child did not lead within %s", timeout)
		}
	}
}

func (c *child) signal(t *testing.T, s syscall.Signal) time.Time {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(s))
	return time.Now()
}

// killed: SIGKILL the leading child; the standby leads within two leases.
func killed(t *testing.T, c *child, standby leader.Elector, ttl time.Duration) {
	first := c.epoch(t, 30*time.Second)
	pending := campaign(context.Background(), standby)
	requireWaiting(t, pending, 2*ttl)
	died := c.signal(t, syscall.SIGKILL)
	r := waitResult(t, pending, 2*ttl)
	t.Logf("takeover %s after SIGKILL of the leader (TTL %s)", r.at.Sub(died).Round(time.Millisecond), ttl)
	require.Greater(t, r.term.Epoch(), first)
	require.NoError(t, r.term.Resign(context.Background()))
}

// stopped: SIGSTOP the leading child past its lease; the standby leads; SIGCONT: every
// Check the child made from then on fails, and no Check passed after the standby led.
func stopped(t *testing.T, c *child, standby leader.Elector, ttl time.Duration) {
	c.epoch(t, 30*time.Second)
	pending := campaign(context.Background(), standby)
	requireWaiting(t, pending, ttl)
	stoppedAt := c.signal(t, syscall.SIGSTOP)
	r := waitResult(t, pending, 3*ttl)
	t.Logf("the standby led %s after SIGSTOP of the leader (TTL %s)", r.at.Sub(stoppedAt).Round(time.Millisecond), ttl)
	resumed := c.signal(t, syscall.SIGCONT)
	after := 0
	for after < 20 {
		l, ok := <-c.lines
		require.True(t, ok, "the child exited")
		f := strings.Fields(l)
		require.GreaterOrEqual(t, len(f), 3, l)
		n, err := strconv.ParseInt(f[1], 10, 64)
		require.NoError(t, err, l)
		at := time.Unix(0, n)
		if f[2] == "ok" {
			require.True(t, at.Before(r.at), "Check passed at %s, after the standby led at %s", at, r.at)
		}
		if at.After(resumed) {
			require.Equal(t, "failed:", f[2], "a Check after SIGCONT: %s", l)
			after++
		}
	}
	require.NoError(t, r.term.Check())
	require.NoError(t, r.term.Resign(context.Background()))
}

func TestEtcdProcessKilledAndStopped(t *testing.T) {
	endpoint := testhosts.StartEtcd(t)
	env := []string{childEnv + "=etcd", "DECK_LEADER_ENDPOINT=" + endpoint, "DECK_LEADER_TTL=" + etcdTTL.String()}
	t.Run("SIGKILL", func(t *testing.T) {
		killed(t, startChild(t, env...), etcdElector(t, endpoint, "standby"), etcdTTL)
	})
	t.Run("SIGSTOP", func(t *testing.T) {
		stopped(t, startChild(t, env...), etcdElector(t, endpoint, "standby"), etcdTTL)
	})
}
