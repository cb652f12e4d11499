package lock

import (
	"context"
	"sync"
	"time"

	"github.com/deckhq/deck/providers"
)

// generation is one generation of the lock on one host: its record and the renewal
// records that keep it alive.
type generation struct {
	n        uint64
	rec      providers.Record
	last     time.Time // last activity: the newest Created of the record and its renewals
	seq      uint64    // highest renewal sequence (0: none)
	renewals []string
}

func (g *generation) id() string     { return g.rec.Labels[keyID] }
func (g *generation) released() bool { return g.rec.Labels[keyReleased] == "true" }
func (g *generation) broken() bool   { return g.rec.Labels[keyBroke+"id"] != "" }
func (g *generation) epoch() uint64  { return decodeHolder(g.rec.Labels, keyHolder).Epoch }

// live reports whether the generation holds the lock at now, by the clock of the host
// that keeps it: not released and active within the TTL its holder recorded.
func (g *generation) live(now time.Time) bool {
	ttl := decodeHolder(g.rec.Labels, keyHolder).TTL
	return !g.released() && now.Sub(g.last) <= ttl
}

// holder describes the generation's creator as seen at now.
func (g *generation) holder(now time.Time) Holder {
	h := decodeHolder(g.rec.Labels, keyHolder)
	h.Since, h.Expires, h.Seen = g.rec.Created, g.last.Add(h.TTL), now
	return h
}

// chain is what one host says about the lock: its clock and its generations.
type chain struct {
	host string
	err  error // the host did not answer
	now  time.Time
	gens map[uint64]*generation
	top  *generation // the newest generation; nil when there is none
}

func parseChain(prefix string, recs []providers.Record) *chain {
	c := &chain{gens: map[uint64]*generation{}}
	for _, r := range recs {
		if n, _, renewal, ok := parseName(prefix, r.Name); ok && !renewal {
			c.gens[n] = &generation{n: n, rec: r, last: r.Created}
			if c.top == nil || n > c.top.n {
				c.top = c.gens[n]
			}
		}
	}
	for _, r := range recs {
		n, seq, renewal, ok := parseName(prefix, r.Name)
		g := c.gens[n]
		if !ok || !renewal || g == nil {
			continue // orphan renewals are left to gc
		}
		g.renewals = append(g.renewals, r.Name)
		g.seq = max(g.seq, seq)
		if g.extendedBy(r) && r.Created.After(g.last) {
			g.last = r.Created
		}
	}
	return c
}

// extendedBy reports whether renewal r extends g: it names (label after) the activity it
// follows, as its holder read it, and landed within the TTL of it. A renewal that landed
// later does not revive g, for anyone: a reader may have judged g expired in between and
// be taking the next generation. So expiry, once seen, is final.
func (g *generation) extendedBy(r providers.Record) bool {
	after, err := time.Parse(time.RFC3339Nano, r.Labels[keyAfter])
	ttl := decodeHolder(g.rec.Labels, keyHolder).TTL
	return err == nil && !after.Before(g.rec.Created) && r.Created.Sub(after) <= ttl
}

func (c *chain) topN() uint64 {
	if c.top == nil {
		return 0
	}
	return c.top.n
}

func (c *chain) maxEpoch() uint64 {
	var e uint64
	for _, g := range c.gens {
		e = max(e, g.epoch())
	}
	return e
}

// readAll reads every host at once; views[i] is hosts[i]'s.
func (l *HostsLocker) readAll(ctx context.Context) []*chain {
	views := make([]*chain, len(l.hosts))
	each(len(l.hosts), func(i int) { views[i] = l.readOne(ctx, i) })
	return views
}

func (l *HostsLocker) readOne(ctx context.Context, i int) *chain {
	ctx, cancel := context.WithTimeout(ctx, l.opts.hostTimeout)
	defer cancel()
	r := l.hosts[i].Records
	// The clock is read before the list: a renewal written after this reading gets a later
	// Created, so if this view judges its generation expired, the renewal's own check
	// (renew.go) judges it landed too late. Read after the list, both could count.
	now, err := r.Now(ctx)
	if err != nil {
		return &chain{host: l.hosts[i].Name, err: err}
	}
	recs, err := r.ListRecords(ctx, l.prefix)
	if err != nil {
		return &chain{host: l.hosts[i].Name, err: err}
	}
	c := parseChain(l.prefix, recs)
	c.host, c.now = l.hosts[i].Name, now
	return c
}

// needQuorum fails unless a majority of the hosts answered.
func (l *HostsLocker) needQuorum(views []*chain) error {
	e := &QuorumError{Lock: l.what, App: l.app, Env: l.env, Need: l.quorum, Total: len(views)}
	for _, v := range views {
		if v.err != nil {
			e.Unreachable = append(e.Unreachable, v.host)
			e.Errs = append(e.Errs, v.err)
		}
	}
	if len(views)-len(e.Unreachable) >= l.quorum {
		return nil
	}
	return e
}

// liveHolder returns the holder of the live top generation with the highest epoch on any
// answering host, or nil. Any one host suffices: a holder has a live generation on a
// majority, which meets every majority a reader can see.
func liveHolder(views []*chain) *Holder {
	var best *Holder
	for _, v := range views {
		if v.err != nil || v.top == nil || !v.top.live(v.now) {
			continue
		}
		if h := v.top.holder(v.now); best == nil || h.Epoch > best.Epoch {
			best = &h
		}
	}
	return best
}

func maxEpoch(views []*chain) uint64 {
	var e uint64
	for _, v := range views {
		if v.err == nil {
			e = max(e, v.maxEpoch())
		}
	}
	return e
}

// each runs f(0..n-1) concurrently and waits for all.
func each(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { f(i) })
	}
	wg.Wait()
}
