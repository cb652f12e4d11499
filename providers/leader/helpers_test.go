package leader_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/leader"
	"github.com/deckhq/deck/providers/lock"
)

// pausable stands for a process stopped with SIGSTOP: while paused, its calls to the
// hosts hang, whatever their deadline; on resume they go out, late.
type pausable struct {
	providers.Records
	mu   sync.Mutex
	gate chan struct{} // nil while running
}

func (p *pausable) Pause() { p.mu.Lock(); p.gate = make(chan struct{}); p.mu.Unlock() }

func (p *pausable) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate != nil {
		close(p.gate)
		p.gate = nil
	}
}

func (p *pausable) wait() {
	p.mu.Lock()
	g := p.gate
	p.mu.Unlock()
	if g != nil {
		<-g
	}
}

func (p *pausable) CreateRecord(ctx context.Context, name string, labels map[string]string) error {
	p.wait()
	return p.Records.CreateRecord(ctx, name, labels)
}

func (p *pausable) ListRecords(ctx context.Context, prefix string) ([]providers.Record, error) {
	p.wait()
	return p.Records.ListRecords(ctx, prefix)
}

func (p *pausable) RemoveRecord(ctx context.Context, name string) error {
	p.wait()
	return p.Records.RemoveRecord(ctx, name)
}

func (p *pausable) Now(ctx context.Context) (time.Time, error) {
	p.wait()
	return p.Records.Now(ctx)
}

// pausableHosts wraps every host of named in one pausable process.
func pausableHosts(named []lock.NamedRecords) ([]lock.NamedRecords, *pausables) {
	ps := &pausables{}
	out := make([]lock.NamedRecords, len(named))
	for i, n := range named {
		p := &pausable{Records: n.Records}
		ps.all = append(ps.all, p)
		out[i] = lock.NamedRecords{Name: n.Name, Records: p}
	}
	return out, ps
}

type pausables struct{ all []*pausable }

func (ps *pausables) Pause() {
	for _, p := range ps.all {
		p.Pause()
	}
}

func (ps *pausables) Resume() {
	for _, p := range ps.all {
		p.Resume()
	}
}

func who(name string) lock.Holder {
	return lock.Holder{User: name, Machine: "m-" + name, PID: 100, Command: "deck controller", Why: "test"}
}

// campaign runs Campaign in the background; the result comes on the channel.
type result struct {
	term leader.Term
	err  error
	at   time.Time
}

func campaign(ctx context.Context, e leader.Elector) <-chan result {
	ch := make(chan result, 1)
	go func() {
		term, err := e.Campaign(ctx)
		ch <- result{term, err, time.Now()}
	}()
	return ch
}

func lead(t *testing.T, e leader.Elector) leader.Term {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	term, err := e.Campaign(ctx)
	require.NoError(t, err)
	return term
}

// waitResult waits for a campaign to win.
func waitResult(t *testing.T, ch <-chan result, timeout time.Duration) result {
	t.Helper()
	select {
	case r := <-ch:
		require.NoError(t, r.err)
		return r
	case <-time.After(timeout):
		t.Fatalf("the standby did not lead within %s", timeout)
		return result{}
	}
}

// requireWaiting asserts a campaign is still waiting after d: the leader keeps its term.
func requireWaiting(t *testing.T, ch <-chan result, d time.Duration) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("the standby led (err %v) while the leader renewed", r.err)
	case <-time.After(d):
	}
}

// failsAt reports (once) when term's Check first failed, polling it every millisecond;
// Check is a function of time, so this is when it started failing, to a millisecond.
func failsAt(term leader.Term) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		for term.Check() == nil {
			time.Sleep(time.Millisecond)
		}
		ch <- time.Now()
	}()
	return ch
}

func requireLeader(t *testing.T, e leader.Elector, want string) {
	t.Helper()
	got, ok, err := e.Leader(context.Background())
	require.NoError(t, err)
	require.True(t, ok, "someone leads")
	require.Equal(t, want, got)
}
