package lock

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/deckhq/deck/providers"
)

// NamedRecords is one lock host: its name (for messages) and its records. A
// providers.Host satisfies Records.
type NamedRecords struct {
	Name    string
	Records providers.Records
}

// HostsLocker keeps the deploy lock on a majority of an environment's hosts.
type HostsLocker struct {
	hosts    []NamedRecords // sorted by name: every contender claims them in this order
	quorum   int
	app, env string
	prefix   string
	what     string // "deploy lock", or the name given WithName (for messages)
	opts     options
}

var _ Locker = (*HostsLocker)(nil)

type options struct {
	ttl, renew, margin, poll, hostTimeout, watch time.Duration
	name                                         string
}

// Option tunes a HostsLocker.
type Option func(*options)

// WithTTL sets how long the lock outlives its holder's last renewal (default 30s).
func WithTTL(d time.Duration) Option { return func(o *options) { o.ttl = d } }

// WithRenewInterval sets how often a holder renews (default TTL/3: two renewals can fail
// before the lease runs out).
func WithRenewInterval(d time.Duration) Option { return func(o *options) { o.renew = d } }

// WithMargin sets how long before the hosts could expire the lock the holder stops
// trusting it (default 2s). The hosts' record times have one-second precision on Podman
// (a renewal can look up to 1s older than it is), and the holder measures the TTL on its
// own clock, whose rate differs slightly from the hosts'.
func WithMargin(d time.Duration) Option { return func(o *options) { o.margin = d } }

// WithWatchInterval has a holder read the lock on its hosts this often between renewals
// (default 0: only renewals read it), so a lock that was broken (deck lock release
// --force) or taken over ends its lease within about that long, not at the next renewal
// (TTL/3): the holder's fence refuses its writes from then on. It only reads.
func WithWatchInterval(d time.Duration) Option { return func(o *options) { o.watch = d } }

// WithPollInterval sets how often a waiting Acquire retries (default 1s, with jitter).
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.poll = d } }

// WithHostTimeout bounds each call to one host, so a hung host counts as unreachable
// instead of stalling everyone (default 5s).
func WithHostTimeout(d time.Duration) Option { return func(o *options) { o.hostTimeout = d } }

// WithName makes this a lock other than the deploy lock of the same app+environment (for
// example "controller leadership"): its records get names of their own, so holding one
// never blocks the other, and its messages call it by name. Without it (or with "") it is
// the deploy lock, whose record names never change.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// NewHostsLocker returns the lock of app+env kept on hosts (the environment's hosts;
// every deck must pass the same set, or majorities stop meeting).
func NewHostsLocker(hosts []NamedRecords, app, env string, opts ...Option) (*HostsLocker, error) {
	o := options{ttl: 30 * time.Second, margin: 2 * time.Second, poll: time.Second, hostTimeout: 5 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	if o.renew == 0 {
		o.renew = o.ttl / 3
	}
	what := "deploy lock"
	if o.name != "" {
		what = o.name + " lock"
	}
	if err := o.check(what); err != nil {
		return nil, err
	}
	hosts = slices.Clone(hosts)
	slices.SortFunc(hosts, func(a, b NamedRecords) int { return strings.Compare(a.Name, b.Name) })
	for i, h := range hosts {
		if h.Records == nil || h.Name == "" || (i > 0 && hosts[i-1].Name == h.Name) {
			return nil, fmt.Errorf("%s: hosts need distinct names and records (host %d: %q)", what, i, h.Name)
		}
	}
	if len(hosts) == 0 {
		return nil, errors.New(what + ": no hosts to keep the lock on")
	}
	return &HostsLocker{hosts: hosts, quorum: len(hosts)/2 + 1, app: app, env: env,
		prefix: lockPrefix(app, env, o.name), what: what, opts: o}, nil
}

func (o options) check(what string) error {
	switch {
	case o.margin < 0 || o.margin >= o.ttl:
		return fmt.Errorf("%s: the margin (%s) must be shorter than the TTL (%s)", what, o.margin, o.ttl)
	case o.renew <= 0 || o.renew >= o.ttl-o.margin:
		return fmt.Errorf("%s: the renew interval (%s) must be shorter than the TTL minus the margin (%s)", what, o.renew, o.ttl-o.margin)
	case o.poll <= 0 || o.hostTimeout <= 0:
		return errors.New(what + ": the poll interval and host timeout must be positive")
	case o.watch < 0:
		return errors.New(what + ": the watch interval must not be negative")
	}
	return nil
}

// Status returns the live holder, or nil when the lock is free.
func (l *HostsLocker) Status(ctx context.Context) (*Holder, error) {
	views := l.readAll(ctx)
	if err := l.needQuorum(views); err != nil {
		return nil, err
	}
	return liveHolder(views), nil
}

// LastBreak returns the most recently broken holder (BrokenBy set) among the two newest
// generations of each answering host, or nil.
func (l *HostsLocker) LastBreak(ctx context.Context) (*Holder, error) {
	views := l.readAll(ctx)
	if err := l.needQuorum(views); err != nil {
		return nil, err
	}
	var best *Holder
	for _, v := range views {
		if v.err != nil || v.top == nil {
			continue
		}
		for _, g := range []*generation{v.top, v.gens[v.top.n-1]} {
			if g == nil || !g.broken() {
				continue
			}
			broken, by := decodeHolder(g.rec.Labels, keyBroke), g.holder(v.now)
			if broken.BrokenBy = &by; best == nil || by.Epoch > best.BrokenBy.Epoch {
				best = &broken
			}
		}
	}
	return best, nil
}

// Break frees the lock whoever holds it: a released generation naming the breaker, with
// an epoch above the holder's, on a majority. The holder's next renewal sees it.
func (l *HostsLocker) Break(ctx context.Context, by Holder) (*Holder, error) {
	views := l.readAll(ctx)
	if err := l.needQuorum(views); err != nil {
		return nil, err
	}
	held := liveHolder(views)
	if held == nil {
		return nil, nil
	}
	by.ID, by.Epoch = newID(), maxEpoch(views)+1
	labels := l.breakLabels(by, *held)
	ok := make([]bool, len(views))
	each(len(views), func(i int) {
		if views[i].err == nil {
			ok[i] = l.write(ctx, i, views[i].topN()+1, labels) != nil
		}
	})
	if n := count(ok); n < l.quorum {
		return nil, fmt.Errorf("%s for %s/%s: broke it on only %d of %d hosts (need %d); %s may still hold it",
			l.what, l.app, l.env, n, len(views), l.quorum, held)
	}
	return held, nil
}

// write creates generation n on host i and confirms it, then collects older generations.
// It returns the confirmed record, or nil.
func (l *HostsLocker) write(ctx context.Context, i int, n uint64, labels map[string]string) *providers.Record {
	ctx, cancel := context.WithTimeout(ctx, l.opts.hostTimeout)
	defer cancel()
	if err := l.hosts[i].Records.CreateRecord(ctx, genName(l.prefix, n), labels); err != nil {
		return nil
	}
	return l.confirm(ctx, i, n, labels[keyID])
}

// confirm checks that generation n on host i is ours and the newest, then collects older
// generations. A name can be taken late: a contender paused since it read generation n-1
// as the newest may create generation n after gc removed it under a newer chain. Such a
// record is not the newest, so it is removed and does not count.
func (l *HostsLocker) confirm(ctx context.Context, i int, n uint64, id string) *providers.Record {
	ctx, cancel := context.WithTimeout(ctx, l.opts.hostTimeout)
	defer cancel()
	recs, err := l.hosts[i].Records.ListRecords(ctx, l.prefix)
	if err != nil {
		return nil
	}
	c := parseChain(l.prefix, recs)
	g := c.gens[n]
	if g == nil || g.id() != id {
		return nil
	}
	if c.top != g {
		_ = l.hosts[i].Records.RemoveRecord(ctx, g.rec.Name)
		return nil
	}
	l.gc(ctx, i, recs, n)
	return &g.rec
}

// gc removes, once generation top is on host i, what no reader needs: generations older
// than top-1 and renewals of generations older than top. Best effort: the next writer
// removes what stays.
func (l *HostsLocker) gc(ctx context.Context, i int, recs []providers.Record, top uint64) {
	for _, r := range recs {
		n, _, renewal, ok := parseName(l.prefix, r.Name)
		if ok && (n+1 < top || (renewal && n < top)) {
			_ = l.hosts[i].Records.RemoveRecord(ctx, r.Name)
		}
	}
}

// removeMine removes generation n from host i if it is id's, even when ctx is done: a
// failed contender must not leave a record that blocks others until it expires.
func (l *HostsLocker) removeMine(ctx context.Context, i int, n uint64, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.opts.hostTimeout)
	defer cancel()
	name := genName(l.prefix, n)
	recs, err := l.hosts[i].Records.ListRecords(ctx, name)
	if err != nil {
		return
	}
	for _, r := range recs {
		if r.Name == name && r.Labels[keyID] == id {
			_ = l.hosts[i].Records.RemoveRecord(ctx, name)
		}
	}
}

func count(ok []bool) int {
	n := 0
	for _, b := range ok {
		if b {
			n++
		}
	}
	return n
}
