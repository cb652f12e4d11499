package cli

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/fake"
	"github.com/deckhq/deck/providers/history"
	"github.com/deckhq/deck/providers/lock"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./cmd/internal/cli -run %s -update to create it", t.Name())
	assert.Equal(t, string(want), got)
}

var histBase = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// historyFixture puts the fake hosts on one clock and returns their history store and a
// way to move the clock on.
func historyFixture(h *harness) (*history.Store, []*fake.Host, func(time.Duration)) {
	var offset atomic.Int64
	hosts := []*fake.Host{h.cloud.Host("h1"), h.cloud.Host("h2")}
	for _, fh := range hosts {
		fh.SetClock(func() time.Time { return histBase.Add(time.Duration(offset.Load())) })
	}
	return history.New(hosts, "shop", "test"), hosts, func(d time.Duration) { offset.Add(int64(d)) }
}

func apiRevision(image, trigger string) history.Revision {
	return history.Revision{Service: "api", ID: "3f2a9c1b7e4d", Kind: history.KindDeploy,
		Task: manifest.TaskDef{Image: image, CPU: 256, Memory: 128, Variables: map[string]string{"MODE": "fast"},
			Secrets: []manifest.SecretRef{{Name: "DB_PASSWORD", Digest: "9b74c9897bac770f"}}},
		Meta: history.Meta{Who: "github:octocat", Where: "https://github.com/shop/api/actions/runs/42",
			Commit: "0123456789abcdef0123456789abcdef01234567", Message: "Add a cart", Trigger: trigger}}
}

// deployThree records: 1 completed, 2 rolled back by the circuit breaker, 3 a rollback
// to 1 still in progress.
func deployThree(t *testing.T, s *history.Store, advance func(time.Duration)) {
	t.Helper()
	ctx := context.Background()
	_, err := s.Create(ctx, apiRevision("registry.example/api:1", "deck deploy"))
	require.NoError(t, err)
	advance(2 * time.Minute)
	require.NoError(t, s.Finish(ctx, "api", 1, history.Completed, ""))
	advance(3 * time.Hour)
	second := apiRevision("registry.example/api:2", "deck deploy")
	second.Who, second.Where, second.Commit, second.Message = "alice@laptop", "laptop:/src/shop", "89abcdef-dirty", ""
	_, err = s.Create(ctx, second)
	require.NoError(t, err)
	advance(time.Minute)
	require.NoError(t, s.Finish(ctx, "api", 2, history.RolledBack, "circuit breaker: 3 of 6 tasks failed; rolled back to 1"))
	advance(10 * time.Minute)
	back := apiRevision("registry.example/api:1", "deck rollback --to 1")
	back.Kind, back.RollbackOf = history.KindRollback, 1
	_, err = s.Create(ctx, back)
	require.NoError(t, err)
	advance(5 * time.Minute)
}

func TestHistoryOfAService(t *testing.T) {
	h := newHarness(t)
	s, _, advance := historyFixture(h)
	deployThree(t, s, advance)

	code, out, errOut := h.run("history", "api")
	require.Equal(t, 0, code, errOut)
	golden(t, "history-api.txt", out)

	code, out, errOut = h.run("history", "api", "--output", "json")
	require.Equal(t, 0, code, errOut)
	golden(t, "history-api.json", out)
	var r HistoryReport
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Len(t, r.Revisions, 3)
	assert.Equal(t, []int{3, 2, 1}, []int{r.Revisions[0].Revision, r.Revisions[1].Revision, r.Revisions[2].Revision}, "newest first")
	assert.Equal(t, "in progress", r.Revisions[0].Outcome)
	assert.Nil(t, r.Revisions[0].Finished)
	assert.Empty(t, r.Events, "the audit trail is for the whole environment")
}

func TestHistoryOfAServiceWithoutRevisions(t *testing.T) {
	h := newHarness(t)
	code, out, errOut := h.run("history", "api")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Equal(t, "Error: service api has no revisions in app shop, environment test: deck keeps one for each deploy that changes it\n", errOut)
}

func TestHistoryShowsTheAuditTrail(t *testing.T) {
	h := newHarness(t)
	s, hosts, advance := historyFixture(h)
	deployThree(t, s, advance)
	_, err := s.Create(context.Background(), history.Revision{Service: "worker", ID: "77aa", Kind: history.KindDeploy,
		Task: manifest.TaskDef{Image: "registry.example/worker:1"}, Meta: history.Meta{Who: "bob@ci-1", Where: "ci-1:/build", Trigger: "deck deploy"}})
	require.NoError(t, err)

	// bob's deploy is killed holding the lock; ops breaks it.
	l := hostsLocker(t, hosts)
	ctx, kill := context.WithCancel(context.Background())
	_, err = l.Acquire(ctx, lock.Request{Who: lock.Holder{User: "bob", Machine: "ci-1", PID: 7, Command: "deck deploy"}})
	require.NoError(t, err)
	kill()
	advance(10 * time.Second) // within the lock's TTL: still held
	_, err = l.Break(context.Background(), lock.Holder{User: "ops", Machine: "desk", PID: 9, Command: "deck lock release --force"})
	require.NoError(t, err)
	advance(time.Hour)

	code, out, errOut := h.run("history")
	require.Equal(t, 0, code, errOut)
	golden(t, "history-all.txt", out)

	code, out, errOut = h.run("history", "--output", "json")
	require.Equal(t, 0, code, errOut)
	golden(t, "history-all.json", out)
	var r HistoryReport
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	assert.Len(t, r.Revisions, 4, "every service's")
	require.NotEmpty(t, r.Events)
	last := r.Events[len(r.Events)-1]
	assert.Equal(t, []any{"lock break", "ops@desk"}, []any{last.Kind, last.Who})
}

func TestHistoryWithAHostDown(t *testing.T) {
	h := newHarness(t)
	s, hosts, advance := historyFixture(h)
	deployThree(t, s, advance)
	hosts[1].SetDown(true)
	code, out, errOut := h.run("history", "api")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "Host h2 is unreachable; what only it keeps is left out: host h2")
	assert.Contains(t, out, "rollback to 1")

	hosts[0].SetDown(true)
	code, _, errOut = h.run("history", "api")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "Error: no host of environment test answered, and the history is kept on them: host h1")
}

// deck lock release --force keeps the break in the history after the lock forgot it.
func TestLockBreakStaysInTheHistory(t *testing.T) {
	h := newHarness(t)
	_, hosts, _ := historyFixture(h)
	l := holdLock(t, hosts, lock.Holder{User: "bob", Machine: "ci-1", PID: 7, Command: "deck deploy"})

	code, _, errOut := h.run("lock", "release", "--force")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "Broke the deploy lock held by bob@ci-1 (pid 7).")
	assert.NotContains(t, errOut, "Warning")
	for range 2 { // two deploys later the lock keeps no trace of the break
		lease, err := l.Acquire(context.Background(), lock.Request{Who: lock.Holder{User: "carol", Machine: "m", Command: "deck deploy"}})
		require.NoError(t, err)
		require.NoError(t, lease.Release(context.Background()))
	}
	gone, err := l.LastBreak(context.Background())
	require.NoError(t, err)
	require.Nil(t, gone)

	code, out, errOut := h.run("history", "--output", "json")
	require.Equal(t, 0, code, errOut)
	var r HistoryReport
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Len(t, r.Events, 1)
	assert.Equal(t, "lock break", r.Events[0].Kind)
	assert.Contains(t, r.Events[0].Text, "broke the deploy lock held by bob@ci-1 (pid 7)")
}

// holdLock takes the environment's deploy lock on the fake hosts as who, and holds it
// until the test ends; it returns the locker for more acquires.
func holdLock(t *testing.T, hosts []*fake.Host, who lock.Holder) *lock.HostsLocker {
	t.Helper()
	l := hostsLocker(t, hosts)
	ctx, kill := context.WithCancel(context.Background())
	t.Cleanup(kill)
	_, err := l.Acquire(ctx, lock.Request{Who: who})
	require.NoError(t, err)
	return l
}

// hostsLocker is the environment's deploy lock on the fake hosts.
func hostsLocker(t *testing.T, hosts []*fake.Host) *lock.HostsLocker {
	t.Helper()
	var named []lock.NamedRecords
	for _, fh := range hosts {
		named = append(named, lock.NamedRecords{Name: fh.Name(), Records: fh})
	}
	l, err := lock.NewHostsLocker(named, "shop", "test")
	require.NoError(t, err)
	return l
}

// Without --lock-wait a deploy waits briefly for deck controller, which holds the lock only
// while it changes something, and fails at once on anyone else.
func TestDeployWaitsBrieflyForTheController(t *testing.T) {
	h := newHarness(t)
	hosts := []*fake.Host{h.cloud.Host("h1"), h.cloud.Host("h2")}
	var named []lock.NamedRecords
	for _, fh := range hosts {
		named = append(named, lock.NamedRecords{Name: fh.Name(), Records: fh})
	}
	l, err := lock.NewHostsLocker(named, "shop", "test", lock.WithTTL(2*time.Second), lock.WithMargin(500*time.Millisecond))
	require.NoError(t, err)
	// A controller that holds the lock and stops renewing it (it was killed): the lock
	// runs out within its 2s TTL, well within the 30s a deploy waits for a controller.
	ctx, kill := context.WithCancel(context.Background())
	_, err = l.Acquire(ctx, lock.Request{Who: lock.Holder{User: "ctl", Machine: "m1", PID: 9, Command: "deck controller"}})
	require.NoError(t, err)
	kill()
	code, _, errOut := h.run("deploy", "--yes")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "Waiting up to 30s for the deploy lock, which deck controller holds while it changes something")

	holdLock(t, hosts, lock.Holder{User: "bob", Machine: "ci-1", PID: 7, Command: "deck deploy"})
	code, _, errOut = h.run("delete", "api", "--yes") // a change: it needs the lock
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "is held by bob@ci-1 (pid 7)")
	assert.NotContains(t, errOut, "Waiting")
}
