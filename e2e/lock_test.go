package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/executor/failpoint"
)

// startDeck starts deck in the background and returns a function that waits for it.
func (a *app) startDeck(extraEnv []string, args ...string) (*exec.Cmd, func() result) {
	a.t.Helper()
	cmd := exec.Command(deckBin, args...)
	cmd.Dir = a.dir
	cmd.Env = append(append([]string{}, a.env...), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &lockedWriter{b: &stderr}
	require.NoError(a.t, cmd.Start())
	return cmd, func() result {
		err := cmd.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return result{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
	}
}

type lockedWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestConcurrentDeploysOneApplies starts N deploys of different revisions at the same
// instant: exactly one applies, the others exit at once naming the lock's holder, and the
// service ends with the one revision that applied.
func TestConcurrentDeploysOneApplies(t *testing.T) {
	hosts := startHosts(t)
	for _, n := range []int{2, 5} {
		t.Run(fmt.Sprintf("%d deploys", n), func(t *testing.T) {
			a := newApp(t, "hello", hosts)
			a.write("deck/hello.yaml", crashHello("base", "0s", rolling))
			require.Equal(t, 0, a.deck("deploy", "--yes").Code)
			// Each deploy gets its own copy of the app, as n CI jobs would.
			apps := make([]*app, n)
			for i := range apps {
				apps[i] = newApp(t, "hello", hosts)
				apps[i].write("deck/hello.yaml", crashHello(fmt.Sprintf("rev%d", i), "0s", rolling))
			}
			waits := make([]func() result, n)
			for i, ai := range apps {
				_, waits[i] = ai.startDeck(nil, "deploy", "--yes")
			}
			winners, held := 0, 0
			winner := -1
			for i, w := range waits {
				r := w()
				switch {
				case r.Code == 0:
					winners++
					winner = i
				case strings.Contains(r.Stderr, "deploy lock"):
					held++
					assert.Contains(t, r.Stderr, "--lock-wait", "says how to wait:\n%s", r)
					assert.NotContains(t, r.Stdout, "started,", "a refused deploy changed nothing:\n%s", r)
				default:
					t.Errorf("deploy %d failed for another reason:\n%s", i, r)
				}
			}
			assert.Equal(t, 1, winners, "exactly one deploy applies")
			assert.Equal(t, n-1, held, "the others report the holder")
			require.GreaterOrEqual(t, winner, 0)
			st := a.status()
			assert.Equal(t, 3, st.Services[0].Healthy)
			assert.True(t, allGreet(t, st, fmt.Sprintf("rev%d", winner)), "one revision runs: the winner's")
			assert.Len(t, containers(t, hosts, "hello"), 3)
		})
	}
}

// TestLockWaitRunsAfterTheHolder: a second deploy with --lock-wait waits for the first
// and then applies on top of what it left.
func TestLockWaitRunsAfterTheHolder(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", crashHello("base", "0s", rolling))
	require.Equal(t, 0, a.deck("deploy", "--yes").Code)
	first := newApp(t, "hello", hosts)
	first.write("deck/hello.yaml", crashHello("first", "1s", rolling))
	second := newApp(t, "hello", hosts)
	second.write("deck/hello.yaml", crashHello("second", "0s", rolling))

	cmd, waitFirst := first.startDeck(nil, "deploy", "--yes")
	require.Eventually(t, func() bool {
		r := a.deck("lock", "status")
		return strings.Contains(r.Stdout, "held by")
	}, 30*time.Second, 50*time.Millisecond, "the first deploy takes the lock")
	r := a.deck("lock", "status")
	assert.Contains(t, r.Stdout, fmt.Sprintf("pid %d", cmd.Process.Pid), r.String())
	rs := second.deck("deploy", "--yes", "--lock-wait", "2m")
	rf := waitFirst()
	require.Equal(t, 0, rf.Code, rf.String())
	require.Equal(t, 0, rs.Code, rs.String())
	assert.Contains(t, rs.Stderr, "Waiting up to 2m0s for the deploy lock")
	st := a.status()
	assert.True(t, allGreet(t, st, "second"), "the waiting deploy applied last")
}

// TestKilledHolderExpires: a deploy killed while it holds the lock blocks the next one
// only until the lock expires (by the lock hosts' clock); deck lock release --force
// breaks it at once, and says who broke it.
func TestKilledHolderExpires(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", crashHello("base", "0s", rolling))
	require.Equal(t, 0, a.deck("deploy", "--yes").Code)

	// The lock is taken only when there is something to do: change the service first.
	a.write("deck/hello.yaml", crashHello("after", "0s", rolling))
	killed := a.deckEnv([]string{"DECK_FAILPOINT=" + failpoint.AfterLock}, "deploy", "--yes", "--lock-ttl", "6s")
	require.Equal(t, -1, killed.Code, killed.String())
	refused := a.deck("deploy", "--yes")
	require.Equal(t, 1, refused.Code, refused.String())
	assert.Contains(t, refused.Stderr, "deploy lock")
	assert.Contains(t, refused.Stderr, "deck deploy --yes --lock-ttl 6s", "names the holder's command")

	start := time.Now()
	r := a.deck("deploy", "--yes", "--lock-wait", "30s")
	require.Equal(t, 0, r.Code, r.String())
	t.Logf("the next deploy got the lock %s after the killed one's last renewal expired", time.Since(start).Round(100*time.Millisecond))

	a.write("deck/hello.yaml", crashHello("again", "0s", rolling))
	killed = a.deckEnv([]string{"DECK_FAILPOINT=" + failpoint.AfterLock}, "deploy", "--yes", "--lock-ttl", "5m")
	require.Equal(t, -1, killed.Code)
	assert.Equal(t, 1, a.deck("lock", "release").Code, "release needs --force")
	br := a.deck("lock", "release", "--force")
	require.Equal(t, 0, br.Code, br.String())
	assert.Contains(t, br.Stderr, "Broke the deploy lock held by")
	st := a.deck("lock", "status")
	assert.Contains(t, st.Stdout, "The deploy lock is free.")
	assert.Contains(t, st.Stdout, "Last broken by")
	require.Equal(t, 0, a.deck("deploy", "--yes").Code)
	assert.True(t, allGreet(t, a.status(), "again"))
}

// TestBrokenHolderStopsWriting: a deploy whose lock is broken (deck lock release --force)
// while it waits for its first wave to become ready stops at its next write: it fails
// saying who broke the lock, and stops none of the old tasks, which keep serving. A deploy
// that renewed only every TTL/3 (10s) went on, stopped the old tasks and reported success.
func TestBrokenHolderStopsWriting(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", crashHello("base", "0s", rolling))
	require.Equal(t, 0, a.deck("deploy", "--yes").Code)
	holder := newApp(t, "hello", hosts)
	holder.write("deck/hello.yaml", crashHello("broken", "4s", rolling))

	_, wait := holder.startDeck(nil, "deploy", "--yes")
	require.Eventually(t, func() bool {
		return strings.Contains(a.deck("lock", "status").Stdout, "held by")
	}, 30*time.Second, 50*time.Millisecond, "the deploy takes the lock")
	br := a.deck("lock", "release", "--force")
	require.Equal(t, 0, br.Code, br.String())
	r := wait()
	require.Equal(t, 1, r.Code, "the broken holder fails:\n%s", r)
	assert.Contains(t, r.Stderr, "deploy lock lost: broken by", r.String())
	assert.NotContains(t, r.Stderr, "task-stopping", "it stopped no old task:\n%s", r)
	st := a.status()
	assert.Equal(t, 3, countGreeting(t, st, "base"), "the old tasks all serve still")

	// The next deploy converges from what the broken one left.
	require.Equal(t, 0, a.deck("deploy", "--yes").Code)
	assert.True(t, allGreet(t, a.status(), "base"))
	assert.Len(t, containers(t, hosts, "hello"), 3, "nothing of the broken deploy is left")
}

// TestNoOpDeployTakesNoLock: with nothing to change, deploy neither waits for nor takes
// the lock, so a plan-only CI step never blocks a deploy.
func TestNoOpDeployTakesNoLock(t *testing.T) {
	hosts := startHosts(t)
	a := newApp(t, "hello", hosts)
	a.write("deck/hello.yaml", crashHello("base", "0s", rolling))
	require.Equal(t, 0, a.deck("deploy", "--yes").Code)
	a.write("deck/hello.yaml", crashHello("next", "0s", rolling))
	killed := a.deckEnv([]string{"DECK_FAILPOINT=" + failpoint.AfterLock}, "deploy", "--yes", "--lock-ttl", "5m")
	require.Equal(t, -1, killed.Code)
	a.write("deck/hello.yaml", crashHello("base", "0s", rolling))
	r := a.deck("deploy", "--yes")
	assert.Equal(t, 0, r.Code, "the lock is held, but there is nothing to do:\n%s", r)
	assert.Contains(t, r.Stdout, "No changes")
	require.Equal(t, 0, a.deck("lock", "release", "--force").Code)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// countGreeting counts the service's tasks that answer with greeting.
func countGreeting(t *testing.T, st statusDoc, greeting string) int {
	t.Helper()
	n := 0
	for _, task := range st.Services[0].Tasks {
		if _, body, err := get("http://" + task.Endpoint + "/"); err == nil && strings.HasPrefix(body, greeting+" from task ") {
			n++
		}
	}
	return n
}
