package history

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/deckhq/deck/providers"
)

// hostRecords is what one host answered for a prefix.
type hostRecords struct {
	host Host
	recs map[string]providers.Record
	err  error
}

// listAll lists prefix on every host at once; views are in the hosts' (name) order.
func (s *Store) listAll(ctx context.Context, prefix string) []hostRecords {
	views := make([]hostRecords, len(s.hosts))
	var wg sync.WaitGroup
	for i, h := range s.hosts {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
			defer cancel()
			views[i] = hostRecords{host: h, recs: map[string]providers.Record{}}
			recs, err := h.ListRecords(cctx, prefix)
			views[i].err = err
			for _, r := range recs {
				views[i].recs[r.Name] = r
			}
		})
	}
	wg.Wait()
	return views
}

func (s *Store) each(fn func(h Host)) {
	var wg sync.WaitGroup
	for _, h := range s.hosts {
		wg.Go(func() { fn(h) })
	}
	wg.Wait()
}

// noneAnswered fails when no host answered, with every host's error.
func noneAnswered(views []hostRecords) error {
	var errs []error
	for _, v := range views {
		if v.err == nil {
			return nil
		}
		errs = append(errs, v.err)
	}
	return fmt.Errorf("no host answered: %w", errNoHost(errs))
}

// resolve merges the hosts' records by name. Where hosts disagree on a name's content
// (a number given out twice while hosts were cut off from each other), the content kept
// on the most hosts wins, then the one created first.
func resolve(views []hostRecords) map[string]providers.Record {
	type variant struct {
		rec    providers.Record
		copies int
	}
	byName := map[string]map[string]*variant{}
	for _, v := range views {
		for name, r := range v.recs {
			key, _ := json.Marshal(r.Labels) // map keys sorted: one key per content
			if byName[name] == nil {
				byName[name] = map[string]*variant{}
			}
			if cur := byName[name][string(key)]; cur != nil {
				cur.copies++
				if r.Created.Before(cur.rec.Created) {
					cur.rec.Created = r.Created
				}
			} else {
				byName[name][string(key)] = &variant{rec: r, copies: 1}
			}
		}
	}
	out := map[string]providers.Record{}
	for name, variants := range byName {
		var best *variant
		var bestKey string
		for key, v := range variants {
			if best == nil || v.copies > best.copies || (v.copies == best.copies &&
				(v.rec.Created.Before(best.rec.Created) || (v.rec.Created.Equal(best.rec.Created) && key < bestKey))) {
				best, bestKey = v, key
			}
		}
		out[name] = best.rec
	}
	return out
}

// List returns the service's revisions, with their outcomes, from every reachable host,
// by number. A revision with no outcome recorded is InProgress.
func (s *Store) List(ctx context.Context, service string) ([]Entry, error) {
	pfx := servicePrefix(s.app, s.env, service)
	views := s.listAll(ctx, pfx)
	if err := noneAnswered(views); err != nil {
		return nil, fmt.Errorf("reading the history of service %s: %w", service, err)
	}
	return s.entries(pfx, service, resolve(views)), nil
}

// entries reads the revisions of service among recs (named under pfx), by number.
func (s *Store) entries(pfx, service string, recs map[string]providers.Record) []Entry {
	var out []Entry
	for name, r := range recs {
		n, done, ok := parseNumber(pfx, name)
		var body revisionBody
		if !ok || done || !s.decode(r, recordRevision, &body) || body.Service != service || body.Number != n {
			continue
		}
		e := Entry{Revision: body.Revision, Outcome: InProgress}
		var o outcomeBody
		if r, ok := recs[outcomeName(pfx, n)]; ok && s.decode(r, recordOutcome, &o) && o.Number == n {
			e.Outcome, e.Detail, e.Finished = o.Outcome, o.Detail, o.Finished
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

// Services lists the services with revisions, sorted.
func (s *Store) Services(ctx context.Context) ([]string, error) {
	recs, err := s.readApp(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if r.Labels[labelRecord] == recordRevision && r.Labels[labelApp] == s.app && r.Labels[labelEnv] == s.env {
			seen[r.Labels[labelService]] = true
		}
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// readApp merges every record of the app+environment from the reachable hosts.
func (s *Store) readApp(ctx context.Context) (map[string]providers.Record, error) {
	views := s.listAll(ctx, appPrefix(s.app, s.env))
	if err := noneAnswered(views); err != nil {
		return nil, fmt.Errorf("reading the deploy history of %s/%s: %w", s.app, s.env, err)
	}
	return resolve(views), nil
}

// Get returns revision number of service, or a *NotFoundError (ErrNotFound) that lists
// the numbers kept.
func (s *Store) Get(ctx context.Context, service string, number int) (Entry, error) {
	entries, err := s.List(ctx, service)
	if err != nil {
		return Entry{}, err
	}
	var kept []int
	for _, e := range entries {
		if e.Number == number {
			return e, nil
		}
		kept = append(kept, e.Number)
	}
	return Entry{}, &NotFoundError{App: s.app, Env: s.env, Service: service, Number: number, Kept: kept}
}

// ErrNotFound matches every *NotFoundError, and is providers.ErrNotFound too.
var ErrNotFound = fmt.Errorf("revision %w", providers.ErrNotFound)

// NotFoundError says a revision is not kept, and which are.
type NotFoundError struct {
	App, Env, Service string
	Number            int
	Kept              []int // the numbers kept, ascending
}

func (e *NotFoundError) Error() string {
	if len(e.Kept) == 0 {
		return fmt.Sprintf("service %s has no revisions in app %s, environment %s", e.Service, e.App, e.Env)
	}
	return fmt.Sprintf("service %s has no revision %d; the hosts keep revisions %s", e.Service, e.Number, ranges(e.Kept))
}

func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// ranges writes ascending numbers as 1-3, 5, 7-9.
func ranges(ns []int) string {
	var parts []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if p := strconv.Itoa(ns[i]); j > i {
			parts = append(parts, p+"-"+strconv.Itoa(ns[j]))
		} else {
			parts = append(parts, p)
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
