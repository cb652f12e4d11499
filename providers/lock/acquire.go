package lock

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/deckhq/deck/providers"
)

// raceRetries is how many times Acquire retries soon after losing a race to contenders
// that all gave up, before saying so (a waiting Acquire retries until Wait passes).
const raceRetries = 3

// Acquire takes the lock; see Locker.
func (l *HostsLocker) Acquire(ctx context.Context, req Request) (Lease, error) {
	deadline := time.Now().Add(req.Wait)
	waiting, races := false, 0
	for {
		lease, held, err := l.attempt(ctx, req.Who)
		if lease != nil || err != nil {
			return lease, err
		}
		late := !time.Now().Before(deadline)
		pause := jitter(l.opts.poll)
		switch {
		case held == nil:
			if races++; late && races > raceRetries {
				return nil, fmt.Errorf("%s for %s/%s: lost %d races to others who gave up too; try again", l.what, l.app, l.env, races)
			}
			pause = jitter(l.opts.poll / 10)
		case late:
			return nil, &HeldError{Lock: l.what, App: l.app, Env: l.env, Holder: *held}
		case !waiting:
			if waiting = true; req.OnWait != nil {
				req.OnWait(*held)
			}
		}
		if !late {
			pause = min(pause, time.Until(deadline))
		}
		if err := sleep(ctx, pause); err != nil {
			return nil, fmt.Errorf("waiting for the %s for %s/%s: %w", l.what, l.app, l.env, err)
		}
	}
}

// attempt tries once. It returns the lease; or the holder that stopped it (nil when it
// lost a race to contenders that gave up too); or an error when too few hosts answer.
func (l *HostsLocker) attempt(ctx context.Context, who Holder) (*hostLease, *Holder, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err // else every host would read as unreachable
	}
	start := time.Now() // before anything is written: the lease is trusted from here
	views := l.readAll(ctx)
	if err := l.needQuorum(views); err != nil {
		return nil, nil, err
	}
	if h := liveHolder(views); h != nil {
		return nil, h, nil
	}
	// Any earlier holder's epoch is on a majority, which meets the majority just read.
	who.ID, who.Epoch, who.TTL = newID(), maxEpoch(views)+1, l.opts.ttl
	created := l.claim(ctx, views, l.labels(who))
	won := map[int]*providers.Record{}
	for i, n := range created {
		if rec := l.confirm(ctx, i, n, who.ID); rec != nil {
			won[i] = rec
		}
	}
	if len(won) >= l.quorum {
		ls := l.newLease(ctx, who, start, won)
		ls.prev = previous(views)
		return ls, nil, nil
	}
	each(len(l.hosts), func(i int) {
		if n, ok := created[i]; ok {
			l.removeMine(ctx, i, n, who.ID)
		}
	})
	return nil, liveHolder(l.readAll(ctx)), nil
}

// previous says who held the lock before, from the newest generation on the hosts read
// (the one with the highest epoch; a break writes one above its holder's, a release one
// with its holder's, preferred on a host that missed the release): nil when there was none.
func previous(views []*chain) *Previous {
	var top *generation
	var now time.Time
	for _, v := range views {
		if v.err != nil || v.top == nil {
			continue
		}
		if top == nil || v.top.epoch() > top.epoch() || (v.top.epoch() == top.epoch() && v.top.released() && !top.released()) {
			top, now = v.top, v.now
		}
	}
	switch {
	case top == nil:
		return nil
	case top.broken():
		by := top.holder(now)
		return &Previous{Holder: decodeHolder(top.rec.Labels, keyBroke), BrokenBy: &by}
	case top.released():
		return &Previous{Holder: top.holder(now)}
	}
	// Not released and, since no holder was live, not renewed within its TTL.
	return &Previous{Holder: top.holder(now), Expired: true}
}

// claim creates the next generation on each answering host, one host after another in
// name order, and stops at the first name already taken. Creating on all hosts at once
// would let N contenders split the hosts between them so that none has a majority; in a
// common order, whoever loses a host stops there, so the contender that wins the first
// contested host meets no one further on. It returns the generation created (or perhaps
// created, when the host did not answer) on each host.
func (l *HostsLocker) claim(ctx context.Context, views []*chain, labels map[string]string) map[int]uint64 {
	created := map[int]uint64{}
	for i, v := range views {
		if v.err != nil {
			continue
		}
		n := v.topN() + 1
		cctx, cancel := context.WithTimeout(ctx, l.opts.hostTimeout)
		err := l.hosts[i].Records.CreateRecord(cctx, genName(l.prefix, n), labels)
		cancel()
		if errors.Is(err, providers.ErrExists) {
			break
		}
		created[i] = n
	}
	return created
}

func jitter(d time.Duration) time.Duration { return d*4/5 + rand.N(d*2/5+1) }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
