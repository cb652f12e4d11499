package history

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
)

func TestCreateNumbersEachServiceFromOneOnEveryHost(t *testing.T) {
	c := newCluster(t, 3)
	s := c.store()
	first := create(t, s, rev("web", "img:1"))
	c.advance(time.Minute)
	second := create(t, s, rev("web", "img:2"))
	worker := create(t, s, rev("worker", "img:w"))
	staging := create(t, New(c.hosts, "shop", "staging"), rev("web", "img:s"))

	assert.Equal(t, []int{1, 2, 1, 1}, []int{first.Number, second.Number, worker.Number, staging.Number})
	assert.Equal(t, base, first.Started, "Started is the host's clock")
	assert.Equal(t, base.Add(time.Minute), second.Started)
	for i := range c.hosts {
		recs := c.records(t, i)
		require.Len(t, recs, 4, "host %d keeps every revision", i)
		for _, r := range recs {
			assert.LessOrEqual(t, len(r.Name), 64, r.Name)
			assert.Regexp(t, `^deck-rev\.[0-9a-f]{12}\.[0-9a-f]{12}\.[0-9]+$`, r.Name)
			assert.Equal(t, "shop", r.Labels[providers.LabelApp])
		}
	}
	entries := list(t, s, "web")
	require.Equal(t, []int{1, 2}, numbers(entries))
	got := entries[1]
	assert.Equal(t, InProgress, got.Outcome)
	want := rev("web", "img:2")
	want.Number, want.Started = 2, base.Add(time.Minute)
	assert.Equal(t, want, got.Revision, "read back as written")

	services, err := s.Services(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"web", "worker"}, services, "staging's are another store's")
}

func TestNamesStayShortForLongNames(t *testing.T) {
	c := newCluster(t, 1)
	long := strings.Repeat("x", 300)
	s := New(c.hosts, "app-"+long, "env-"+long)
	r := create(t, s, rev("svc-"+long, "img:1"))
	require.NoError(t, s.Finish(context.Background(), r.Service, 1, Completed, ""))
	for _, rec := range c.records(t, 0) {
		assert.LessOrEqual(t, len(rec.Name), 64)
	}
	assert.LessOrEqual(t, len(outcomeName(servicePrefix(s.app, s.env, r.Service), 1<<62)), 64, "even for huge numbers")
}

func TestAHostThatWasDownIsRepairedAndNumberingGoesOnFromTheHighest(t *testing.T) {
	c := newCluster(t, 3)
	s := c.store()
	c.hosts[2].SetDown(true)
	create(t, s, rev("web", "img:1"))
	create(t, s, rev("web", "img:2"))
	create(t, s, rev("web", "img:killed")) // a deploy killed before it recorded how it ended
	require.NoError(t, s.Finish(context.Background(), "web", 1, Completed, ""))
	require.NoError(t, s.Finish(context.Background(), "web", 2, Failed, ""))
	c.hosts[2].SetDown(false)
	assert.Empty(t, c.records(t, 2), "h3 missed them")
	assert.Equal(t, []int{1, 2, 3}, numbers(list(t, s, "web")), "List merges the hosts")

	c.hosts[0].SetDown(true)
	fourth := create(t, s, rev("web", "img:4"))
	assert.Equal(t, 4, fourth.Number, "h2 still has 3")
	c.hosts[0].SetDown(false)

	c.hosts[0].SetDown(true)
	c.hosts[1].SetDown(true)
	entries := list(t, s, "web")
	assert.Equal(t, []int{1, 2, 4}, numbers(entries), "h3 alone has the finished ones: the create copied what it lacked")
	assert.Equal(t, []Outcome{Completed, Failed, InProgress}, []Outcome{entries[0].Outcome, entries[1].Outcome, entries[2].Outcome})

	c.hosts[0].SetDown(false)
	c.hosts[1].SetDown(false)
	c.hosts[2].SetDown(true)
	assert.Equal(t, 5, create(t, s, rev("web", "img:5")).Number)
}

func TestCreateFailsOnlyWhenNoHostTakesIt(t *testing.T) {
	c := newCluster(t, 2)
	s := c.store()
	c.hosts[0].SetDown(true)
	create(t, s, rev("web", "img:1"))
	c.hosts[1].SetDown(true)
	_, err := s.Create(context.Background(), rev("web", "img:2"))
	require.ErrorIs(t, err, providers.ErrUnreachable)
	assert.ErrorContains(t, err, "host h1 (ssh://h1): reading the host's clock: unreachable")

	_, err = s.Create(context.Background(), Revision{Service: "web", Kind: KindRollback})
	assert.ErrorContains(t, err, "names the revision it returns to")
}

// Writers started at one instant get distinct numbers, and every host agrees on what
// each number is, also when one writer cannot reach the first host the others claim.
func TestConcurrentCreatesGetDistinctNumbers(t *testing.T) {
	for _, blind := range []bool{false, true} {
		name := "all see every host"
		if blind {
			name = "one writer cannot reach h1"
		}
		t.Run(name, func(t *testing.T) {
			c := newCluster(t, 3)
			const writers = 6
			stores := make([]*Store, writers)
			for w := range stores {
				var hosts []slowHost
				for i, h := range c.hosts {
					hosts = append(hosts, slowHost{Host: h, max: 300 * time.Microsecond, down: blind && w == 0 && i == 0})
				}
				stores[w] = New(hosts, "shop", "prod")
			}
			for round := range 10 {
				got := make([]int, writers)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for w, s := range stores {
					wg.Go(func() {
						<-start
						r, err := s.Create(context.Background(), rev("web", "img"))
						assert.NoError(t, err)
						got[w] = r.Number
					})
				}
				close(start)
				wg.Wait()
				seen := map[int]bool{}
				for _, n := range got {
					assert.False(t, seen[n], "round %d: number %d given twice: %v", round, n, got)
					seen[n] = true
				}
			}
			entries := list(t, c.store(), "web")
			require.Equal(t, 10*writers, len(entries), "no lost and no stray revisions")
			assert.Equal(t, 10*writers, entries[len(entries)-1].Number)
			requireOneContentPerName(t, c)
		})
	}
}

// requireOneContentPerName fails when two hosts hold different records under one name.
func requireOneContentPerName(t *testing.T, c *cluster) {
	t.Helper()
	content := map[string]string{}
	for i := range c.hosts {
		for _, r := range c.records(t, i) {
			body := r.Labels[labelBody]
			if prev, ok := content[r.Name]; ok {
				require.Equal(t, prev, body, "%s differs between hosts", r.Name)
			}
			content[r.Name] = body
		}
	}
}

func TestFinishRecordsTheOutcomeOnce(t *testing.T) {
	c := newCluster(t, 2)
	s := c.store()
	ctx := context.Background()
	create(t, s, rev("web", "img:1"))
	c.advance(90 * time.Second)
	detail := "circuit breaker: 3 of 6 tasks failed; rolled back to 2"
	require.NoError(t, s.Finish(ctx, "web", 1, RolledBack, detail))
	require.NoError(t, s.Finish(ctx, "web", 1, RolledBack, detail), "the same again: a retry")
	err := s.Finish(ctx, "web", 1, Completed, "")
	assert.EqualError(t, err, "revision 1 of service web already ended: rolled back ("+detail+")")

	e, err := s.Get(ctx, "web", 1)
	require.NoError(t, err)
	assert.Equal(t, []any{RolledBack, detail, base.Add(90 * time.Second)}, []any{e.Outcome, e.Detail, e.Finished})

	err = s.Finish(ctx, "web", 2, Completed, "")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorContains(t, s.Finish(ctx, "web", 1, InProgress, ""), `outcome "in progress"`)
}

func TestGetMissingSaysWhichAreKept(t *testing.T) {
	c := newCluster(t, 1)
	s := c.store()
	for i := 1; i <= 4; i++ {
		create(t, s, rev("web", "img"))
	}
	// A hand-removed record leaves a gap.
	require.NoError(t, c.hosts[0].RemoveRecord(context.Background(), revisionName(servicePrefix("shop", "prod", "web"), 3)))
	_, err := s.Get(context.Background(), "web", 9)
	require.EqualError(t, err, "service web has no revision 9; the hosts keep revisions 1-2, 4")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorIs(t, err, providers.ErrNotFound)
	var nf *NotFoundError
	require.True(t, errors.As(err, &nf))
	assert.Equal(t, []int{1, 2, 4}, nf.Kept)

	_, err = s.Get(context.Background(), "api", 1)
	assert.EqualError(t, err, "service api has no revisions in app shop, environment prod")
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestLastCompletedAndKeepImages(t *testing.T) {
	entries := []Entry{
		{Revision: Revision{Number: 1, Task: taskImage("a")}, Outcome: Completed},
		{Revision: Revision{Number: 2, Task: taskImage("b")}, Outcome: Completed},
		{Revision: Revision{Number: 3, Task: taskImage("c")}, Outcome: Failed},
		{Revision: Revision{Number: 4, Task: taskImage("d")}, Outcome: InProgress},
		{Revision: Revision{Number: 5, Task: taskImage("e")}, Outcome: RolledBack},
		{Revision: Revision{Number: 6, Task: taskImage("e")}, Outcome: Failed},
	}
	e, ok := LastCompleted(entries, 0)
	assert.True(t, ok)
	assert.Equal(t, 2, e.Number)
	e, ok = LastCompleted(entries, 2)
	assert.Equal(t, []any{true, 1}, []any{ok, e.Number})
	_, ok = LastCompleted(entries, 1)
	assert.False(t, ok)

	assert.Equal(t, []string{"e", "d", "b"}, KeepImages(entries, 2), "newest 2 (one image), the one in progress, the last completed")
	assert.Equal(t, []string{"e", "d", "c", "b"}, KeepImages(entries, 4))
	assert.Equal(t, []string{"d", "b"}, KeepImages(entries, 0))
	assert.Empty(t, KeepImages(nil, 3))
}
