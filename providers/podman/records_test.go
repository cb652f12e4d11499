package podman

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/providers"
)

func TestRecords(t *testing.T) {
	a, b := hosts(t)
	for _, h := range []*Host{a, b} { // unix:// and ssh://
		t.Run(h.Name(), func(t *testing.T) {
			ctx := testCtx(t)
			prefix := unique("deck-test-rec") + "."
			before, err := h.Now(ctx)
			require.NoError(t, err)
			labels := map[string]string{"holder": "me", "state": `{"count":3,"hosts":["h1","h2"]}`, "empty": ""}
			require.NoError(t, h.CreateRecord(ctx, prefix+"b", labels))
			require.NoError(t, h.CreateRecord(ctx, prefix+"a", nil))
			t.Cleanup(func() {
				_ = h.RemoveRecord(context.Background(), prefix+"a")
				_ = h.RemoveRecord(context.Background(), prefix+"b")
			})

			err = h.CreateRecord(ctx, prefix+"b", map[string]string{"holder": "other"})
			require.ErrorIs(t, err, providers.ErrExists)
			assert.ErrorContains(t, err, "host "+h.Name()+" ("+h.spec.URL+"): creating record "+prefix+"b: already exists")

			recs, err := h.ListRecords(ctx, prefix)
			require.NoError(t, err)
			after, err := h.Now(ctx)
			require.NoError(t, err)
			require.Len(t, recs, 2)
			assert.Equal(t, prefix+"a", recs[0].Name, "sorted by name")
			assert.Empty(t, recs[0].Labels)
			assert.Equal(t, prefix+"b", recs[1].Name)
			assert.Equal(t, labels, recs[1].Labels, "the first create's labels; the refused one changed nothing")
			for _, r := range recs {
				// Now is truncated to the second; Created is exact.
				assert.False(t, r.Created.Before(before), "created %v, host clock before %v", r.Created, before)
				assert.False(t, r.Created.After(after.Add(time.Second)), "created %v, host clock after %v", r.Created, after)
			}

			only, err := h.ListRecords(ctx, prefix+"a")
			require.NoError(t, err)
			require.Len(t, only, 1, "only names starting with the prefix")
			none, err := h.ListRecords(ctx, "x"+prefix)
			require.NoError(t, err)
			assert.Empty(t, none)

			require.NoError(t, h.RemoveRecord(ctx, prefix+"a"))
			err = h.RemoveRecord(ctx, prefix+"a")
			assert.ErrorIs(t, err, providers.ErrNotFound)
			assert.ErrorContains(t, err, "removing record "+prefix+"a: not found")
			recs, err = h.ListRecords(ctx, prefix)
			require.NoError(t, err)
			assert.Len(t, recs, 1)
		})
	}
}

func TestRecordNames(t *testing.T) {
	h, _ := hosts(t)
	ctx := testCtx(t)
	ok := "a" + strings.Repeat("b", 62) + "9" // 64, Podman's limit
	require.NoError(t, h.CreateRecord(ctx, ok, nil))
	require.NoError(t, h.RemoveRecord(ctx, ok))
	for _, name := range []string{"", ok + "x", "bad/name", "a b", "-lead", ".lead", "trail-", "a:b", "é"} {
		err := h.CreateRecord(ctx, name, nil)
		assert.ErrorContains(t, err, "invalid record name", "%q", name)
		assert.False(t, errors.Is(err, providers.ErrExists) || errors.Is(err, providers.ErrUnreachable), "%q", name)
		assert.ErrorContains(t, h.RemoveRecord(ctx, name), "invalid record name", "%q", name)
	}
	err := h.CreateRecord(ctx, "-lead", nil)
	assert.ErrorContains(t, err, "must start and end with a letter or digit")
}

func TestRecordNameRules(t *testing.T) {
	for _, ok := range []string{"a", "deck.lock", "x--y", "A_9.b-c", "1abc"} {
		assert.NoError(t, validRecordName(ok), ok)
	}
	for _, bad := range []string{"", "-a", "a-", ".a", "a.", "_a", "a/b", "a b", "a:b", string(make([]byte, 65))} {
		assert.Error(t, validRecordName(bad), "%q", bad)
	}
}

func TestRecordCreateRace(t *testing.T) {
	a, b := hosts(t)
	for _, h := range []*Host{a, b} {
		t.Run(h.Name(), func(t *testing.T) {
			name := unique("deck-test-lock")
			t.Cleanup(func() { _ = h.RemoveRecord(context.Background(), name) })
			const writers = 5
			errs := make([]error, writers)
			var ready, wg sync.WaitGroup
			ready.Add(writers)
			start := make(chan struct{})
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ready.Done()
					<-start
					errs[i] = h.CreateRecord(testCtx(t), name, map[string]string{"writer": fmt.Sprint(i)})
				}()
			}
			ready.Wait()
			close(start)
			wg.Wait()

			winner := -1
			for i, err := range errs {
				if err == nil {
					assert.Equal(t, -1, winner, "two creates succeeded")
					winner = i
					continue
				}
				assert.ErrorIs(t, err, providers.ErrExists, "writer %d", i)
			}
			require.NotEqual(t, -1, winner, "no create succeeded: %v", errs)
			recs, err := h.ListRecords(testCtx(t), name)
			require.NoError(t, err)
			require.Len(t, recs, 1)
			assert.Equal(t, fmt.Sprint(winner), recs[0].Labels["writer"], "the record is the winner's")
		})
	}
}

func TestNowIsTheHostsClock(t *testing.T) {
	a, b := hosts(t)
	for _, h := range []*Host{a, b} {
		before := time.Now()
		now, err := h.Now(testCtx(t))
		require.NoError(t, err)
		// The hosts share this machine's clock; Date is truncated to the second.
		assert.False(t, now.After(time.Now()), "%s: %v is ahead of the clock", h.Name(), now)
		assert.False(t, now.Before(before.Truncate(time.Second)), "%s: %v, asked at %v", h.Name(), now, before)
	}
}
