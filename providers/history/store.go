package history

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/deckhq/deck/providers"
)

// Host is one host the history is kept on; a providers.Host is one.
type Host interface {
	Name() string
	providers.Records
}

// Store is the history of one app+environment, kept on its reachable hosts.
type Store struct {
	hosts       []Host // sorted by name: every writer claims them in this order
	app, env    string
	hostTimeout time.Duration
}

// Option tunes a Store.
type Option func(*Store)

// WithHostTimeout bounds each call to one host (default 10s): a host that does not
// answer within it counts as unreachable.
func WithHostTimeout(d time.Duration) Option { return func(s *Store) { s.hostTimeout = d } }

// New returns the history of app+env kept on hosts (the reachable ones: a host that does
// not answer is left out of what it reads and writes).
func New[H Host](hosts []H, app, env string, opts ...Option) *Store {
	s := &Store{app: app, env: env, hostTimeout: 10 * time.Second}
	for _, h := range hosts {
		s.hosts = append(s.hosts, h)
	}
	slices.SortFunc(s.hosts, func(a, b Host) int { return strings.Compare(a.Name(), b.Name()) })
	for _, o := range opts {
		o(s)
	}
	return s
}

// maxAttempts bounds how many numbers Create tries when others keep taking them.
const maxAttempts = 10

// Create records rev as the service's next revision and returns it with its Number (and
// Started, from a host's clock, when it was zero). It fails only when no host took it.
func (s *Store) Create(ctx context.Context, rev Revision) (Revision, error) {
	if err := checkRevision(rev); err != nil {
		return rev, err
	}
	if rev.Started.IsZero() {
		now, err := s.Now(ctx)
		if err != nil {
			return rev, err
		}
		rev.Started = now
	}
	pfx := servicePrefix(s.app, s.env, rev.Service)
	body := revisionBody{V: bodyVersion, Nonce: newNonce()}
	tried := 0
	for range maxAttempts {
		views := s.listAll(ctx, pfx)
		if err := noneAnswered(views); err != nil {
			return rev, fmt.Errorf("recording a revision of service %s: %w", rev.Service, err)
		}
		recs := resolve(views)
		s.repair(ctx, views, pfx, recs)
		rev.Number = max(highest(pfx, recs), tried) + 1
		body.Revision = rev
		labels, err := s.labels(rev.Service, recordRevision, body)
		if err != nil {
			return rev, err
		}
		won, lost, errs := s.claim(ctx, views, revisionName(pfx, rev.Number), labels)
		if lost {
			s.withdraw(ctx, revisionName(pfx, rev.Number), labels)
			tried = rev.Number
			continue
		}
		if won == 0 {
			return rev, fmt.Errorf("recording revision %d of service %s: no host took it: %w", rev.Number, rev.Service, errors.Join(errs...))
		}
		return rev, nil
	}
	return rev, fmt.Errorf("recording a revision of service %s: other deploys took %d numbers in a row; try again", rev.Service, maxAttempts)
}

func checkRevision(rev Revision) error {
	switch {
	case rev.Service == "":
		return errors.New("history: a revision needs its service")
	case rev.Kind != KindDeploy && rev.Kind != KindRollback:
		return fmt.Errorf("history: revision kind %q: want %q or %q", rev.Kind, KindDeploy, KindRollback)
	case (rev.Kind == KindRollback) != (rev.RollbackOf > 0):
		return errors.New("history: a rollback, and only a rollback, names the revision it returns to (RollbackOf)")
	}
	return nil
}

// highest is the highest revision number among recs.
func highest(pfx string, recs map[string]providers.Record) int {
	top := 0
	for name := range recs {
		if n, _, ok := parseNumber(pfx, name); ok {
			top = max(top, n)
		}
	}
	return top
}

// claim creates name on each answering host in name order and stops at the first host
// where another record has it (lost). won counts the hosts that have it as written.
func (s *Store) claim(ctx context.Context, views []hostRecords, name string, labels map[string]string) (won int, lost bool, errs []error) {
	for _, v := range views {
		if v.err != nil {
			continue
		}
		err := s.create(ctx, v.host, name, labels)
		switch {
		case err == nil:
			won++
		case errors.Is(err, providers.ErrExists):
			return won, true, errs
		default:
			errs = append(errs, err) // perhaps created: then a reader finds it all the same
		}
	}
	return won, false, errs
}

// create creates a record; an ErrExists for a record with these very labels (this call's
// own, when a first answer was lost) is success.
func (s *Store) create(ctx context.Context, h Host, name string, labels map[string]string) error {
	cctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
	defer cancel()
	err := h.CreateRecord(cctx, name, labels)
	if !errors.Is(err, providers.ErrExists) {
		return err
	}
	if rec, ok := s.lookup(cctx, h, name); ok && sameLabels(rec.Labels, labels) {
		return nil
	}
	return err
}

// lookup reads the record name on h.
func (s *Store) lookup(ctx context.Context, h Host, name string) (providers.Record, bool) {
	recs, err := h.ListRecords(ctx, name)
	if err != nil {
		return providers.Record{}, false
	}
	for _, r := range recs {
		if r.Name == name {
			return r, true
		}
	}
	return providers.Record{}, false
}

// withdraw removes, from every host, the copies of name that hold labels: a writer that
// lost a number leaves nothing under it, wherever it (or a repair) copied it. Even when
// ctx is done: a stray copy would read as a revision that never ends.
func (s *Store) withdraw(ctx context.Context, name string, labels map[string]string) {
	ctx = context.WithoutCancel(ctx)
	s.each(func(h Host) {
		cctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
		defer cancel()
		if rec, ok := s.lookup(cctx, h, name); ok && sameLabels(rec.Labels, labels) {
			_ = h.RemoveRecord(cctx, name)
		}
	})
}

// repair copies the finished revisions in recs, and the outcomes, to the answering hosts
// that lack them (a host that was down when they were written). A revision without an
// outcome may be a writer's claim that is still in flight, which it would withdraw (from
// the hosts it reaches) if it lost: copying it could leave a stray revision behind. Best
// effort: the next Create repairs what is left.
func (s *Store) repair(ctx context.Context, views []hostRecords, pfx string, recs map[string]providers.Record) {
	copyable := map[string]providers.Record{}
	for name, r := range recs {
		n, done, ok := parseNumber(pfx, name)
		if _, finished := recs[outcomeName(pfx, n)]; ok && (done || finished) {
			copyable[name] = r
		}
	}
	var wg sync.WaitGroup
	for _, v := range views {
		if v.err != nil {
			continue
		}
		wg.Go(func() {
			for name, r := range copyable {
				if _, ok := v.recs[name]; !ok {
					_ = s.create(ctx, v.host, name, r.Labels)
				}
			}
		})
	}
	wg.Wait()
}

// Finish records how revision number of service ended. The outcome is immutable: a second
// Finish with the same outcome and detail succeeds, with another one fails.
func (s *Store) Finish(ctx context.Context, service string, number int, outcome Outcome, detail string) error {
	if outcome != Completed && outcome != RolledBack && outcome != Failed {
		return fmt.Errorf("history: outcome %q: want %q, %q or %q", outcome, Completed, RolledBack, Failed)
	}
	pfx := servicePrefix(s.app, s.env, service)
	views := s.listAll(ctx, revisionName(pfx, number))
	if err := noneAnswered(views); err != nil {
		return fmt.Errorf("recording the outcome of revision %d of service %s: %w", number, service, err)
	}
	recs := resolve(views)
	var rev revisionBody
	if r, ok := recs[revisionName(pfx, number)]; !ok || !s.decode(r, recordRevision, &rev) || rev.Service != service {
		return &NotFoundError{App: s.app, Env: s.env, Service: service, Number: number}
	}
	var prev outcomeBody
	if r, ok := recs[outcomeName(pfx, number)]; ok && s.decode(r, recordOutcome, &prev) {
		if prev.Outcome == outcome && prev.Detail == detail {
			return nil
		}
		return fmt.Errorf("revision %d of service %s already ended: %s", number, service, describe(prev.Outcome, prev.Detail))
	}
	now, err := s.Now(ctx)
	if err != nil {
		return err
	}
	labels, err := s.labels(service, recordOutcome, outcomeBody{V: bodyVersion, Number: number, Outcome: outcome, Detail: detail, Finished: now})
	if err != nil {
		return err
	}
	return s.writeAll(ctx, views, outcomeName(pfx, number), labels, func(r providers.Record) bool {
		var b outcomeBody
		return s.decode(r, recordOutcome, &b) && b.Outcome == outcome && b.Detail == detail
	})
}

// writeAll creates name on every answering host. A host where the name is taken counts
// when same says the record there is equivalent; it fails only when no host took it.
func (s *Store) writeAll(ctx context.Context, views []hostRecords, name string, labels map[string]string, same func(providers.Record) bool) error {
	var mu sync.Mutex
	var errs []error
	took := 0
	var wg sync.WaitGroup
	for _, v := range views {
		if v.err != nil {
			continue
		}
		wg.Go(func() {
			err := s.create(ctx, v.host, name, labels)
			if errors.Is(err, providers.ErrExists) {
				cctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
				if rec, ok := s.lookup(cctx, v.host, name); ok && same(rec) {
					err = nil
				}
				cancel()
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else {
				took++
			}
		})
	}
	wg.Wait()
	if took == 0 {
		return fmt.Errorf("recording %s: no host took it: %w", name, errors.Join(errs...))
	}
	return nil
}

// Now is the clock of the first host (by name) that answers.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	var errs []error
	for _, h := range s.hosts {
		cctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
		now, err := h.Now(cctx)
		cancel()
		if err == nil {
			return now, nil
		}
		errs = append(errs, err)
	}
	return time.Time{}, fmt.Errorf("reading a host's clock: %w", errNoHost(errs))
}

func errNoHost(errs []error) error {
	if len(errs) == 0 {
		return errors.New("no hosts")
	}
	return errors.Join(errs...)
}

func describe(o Outcome, detail string) string {
	if detail == "" {
		return string(o)
	}
	return string(o) + " (" + detail + ")"
}
