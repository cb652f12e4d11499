package lock

import (
	"context"
	"maps"
	"time"
)

// outcome is what one renewal round did on one host.
type outcome struct {
	gen   uint64      // our generation there, renewed or joined; 0 when neither
	last  time.Time   // its new last activity (host clock)
	taken *generation // a newer generation that ended our hold there
	now   time.Time   // the host's clock when taken was seen
}

// renew runs one renewal round on every host at once and reports whether a majority
// renewed. The round is bounded by the lease's validity: a renewal that reaches a
// majority after that is no longer one the lease can trust. Once a majority has renewed,
// the round waits for the other hosts only as long again as the majority took: a host
// that stopped answering must not hold the round (and the next one) back until the
// lease runs out, which would end a lease that a majority keeps renewing.
func (ls *hostLease) renew(ctx context.Context) bool {
	sent := time.Now()
	ls.mu.Lock()
	left, gens, h := ls.leftLocked(), maps.Clone(ls.gens), ls.holder
	ls.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, left)
	defer cancel() // also ends the calls of hosts the round did not wait for
	type result struct {
		i int
		o outcome
	}
	n := len(ls.l.hosts)
	results := make(chan result, n)
	for i := range n {
		had, ok := gens[i]
		go func() { results <- result{i, ls.renewOn(ctx, i, had, ok, h)} }()
	}
	out := make([]outcome, n)
	renewed := 0
	var rest <-chan time.Time
collect:
	for got := 0; got < n; got++ {
		select {
		case r := <-results:
			out[r.i] = r.o
			if r.o.gen != 0 {
				if renewed++; renewed == ls.l.quorum && got+1 < n {
					rest = time.After(time.Since(sent))
				}
			}
		case <-rest:
			break collect
		case <-ctx.Done():
			break collect
		}
	}
	return ls.settle(sent, out)
}

// settle applies a round: a majority renewed extends the lease from sent; newer
// generations on so many hosts that no majority is left for us end it, naming the newest.
func (ls *hostLease) settle(sent time.Time, out []outcome) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	renewed := 0
	for i, o := range out {
		if o.gen != 0 {
			renewed++
			ls.gens[i] = o.gen
			if exp := o.last.Add(ls.l.opts.ttl); renewed == 1 || exp.Before(ls.holder.Expires) {
				ls.holder.Expires = exp
			}
		}
	}
	if ls.err != nil {
		return false
	}
	if renewed >= ls.l.quorum {
		ls.sent = sent
		return true
	}
	ls.endIfTakenLocked(out)
	return false
}

// endIfTakenLocked ends the lease when the hosts of out that show a newer holder leave no
// majority for us, naming the newest.
func (ls *hostLease) endIfTakenLocked(out []outcome) {
	taken := 0
	var by *outcome
	for i, o := range out {
		if o.taken != nil {
			if taken++; by == nil || o.taken.epoch() > by.taken.epoch() {
				by = &out[i]
			}
		}
	}
	if ls.err == nil && taken > len(out)-ls.l.quorum {
		h := by.taken.holder(by.now)
		ls.endLocked(&LostError{Lock: ls.l.what, By: &h, Broken: by.taken.broken()})
	}
}

// renewOn renews on host i: a renewal record when our generation is the newest and live
// there; a new generation of ours (joining) when the newest there is free and no newer
// holder's (a host that was down at acquire, or where ours expired); else nothing.
func (ls *hostLease) renewOn(ctx context.Context, i int, had uint64, hasHad bool, h Holder) outcome {
	c := ls.l.readOne(ctx, i)
	top := c.top
	switch {
	case c.err != nil:
		return outcome{}
	case top != nil && top.id() == ls.id && top.live(c.now):
		return ls.extend(ctx, i, top)
	case top != nil && (top.epoch() > ls.epoch || (hasHad && top.n > had)):
		return outcome{taken: top, now: c.now}
	case top == nil || (!top.live(c.now) && top.epoch() <= ls.epoch):
		if rec := ls.l.write(ctx, i, c.topN()+1, ls.l.labels(h)); rec != nil {
			return outcome{gen: c.topN() + 1, last: rec.Created}
		}
	}
	return outcome{}
}

// extend adds renewal record g.seq+1 to our generation g on host i. It counts if it
// extends g (landed within the TTL of g's last activity: see extendedBy) and nothing newer
// came; then the older renewals go.
func (ls *hostLease) extend(ctx context.Context, i int, g *generation) outcome {
	ctx, cancel := context.WithTimeout(ctx, ls.l.opts.hostTimeout)
	defer cancel()
	r := ls.l.hosts[i].Records
	name := renewalName(ls.l.prefix, g.n, g.seq+1)
	labels := map[string]string{keyID: ls.id, keyAfter: g.last.Format(time.RFC3339Nano)}
	if err := r.CreateRecord(ctx, name, labels); err != nil {
		return outcome{}
	}
	recs, err := r.ListRecords(ctx, ls.l.prefix)
	if err != nil {
		return outcome{}
	}
	c := parseChain(ls.l.prefix, recs)
	if c.top == nil || c.top.n != g.n {
		return outcome{}
	}
	for _, rec := range recs {
		if rec.Name == name && c.top.extendedBy(rec) {
			for _, old := range g.renewals {
				_ = r.RemoveRecord(ctx, old)
			}
			return outcome{gen: g.n, last: rec.Created}
		}
	}
	return outcome{}
}

// watch reads the lock on every host each watch interval, between renewals, and ends the
// lease as soon as so many hosts show a newer generation than ours (a break, or a holder
// that took the lock over) that no majority is left for us: the fence then refuses our
// next write, instead of at the next renewal. It writes nothing.
func (ls *hostLease) watch(ctx context.Context) {
	t := time.NewTicker(ls.l.opts.watch)
	defer t.Stop()
	for {
		select {
		case <-ls.stop:
			return
		case <-ls.lost:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ls.mu.Lock()
		gens := maps.Clone(ls.gens)
		ls.mu.Unlock()
		n := len(ls.l.hosts)
		out := make([]outcome, n)
		each(n, func(i int) {
			rctx, cancel := context.WithTimeout(ctx, ls.l.opts.hostTimeout)
			defer cancel()
			recs, err := ls.l.hosts[i].Records.ListRecords(rctx, ls.l.prefix)
			if err != nil {
				return
			}
			top := parseChain(ls.l.prefix, recs).top
			had, hasHad := gens[i]
			if top != nil && top.id() != ls.id && (top.epoch() > ls.epoch || (hasHad && top.n > had)) {
				out[i] = outcome{taken: top, now: time.Now()}
			}
		})
		ls.takenBy(out)
	}
}

// takenBy ends the lease when the hosts of out that show a newer holder leave no majority
// for us, unless it was released meanwhile (Release writes a newer generation too).
func (ls *hostLease) takenBy(out []outcome) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	select {
	case <-ls.stop:
		return
	default:
	}
	ls.endIfTakenLocked(out)
}
