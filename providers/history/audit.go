package history

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lock"
)

// Event is one line of the audit trail.
type Event struct {
	Time time.Time `json:"time"` // by a host's clock
	// Kind is EventDeploy, EventRollback, an outcome ("completed", "rolled back",
	// "failed") or EventLockBreak.
	Kind    string `json:"kind"`
	Service string `json:"service,omitempty"`
	Number  int    `json:"revision,omitempty"`
	Who     string `json:"who"`
	Where   string `json:"where,omitempty"`
	Text    string `json:"text"`
}

// Kinds of event besides the outcomes.
const (
	EventDeploy    = KindDeploy
	EventRollback  = KindRollback
	EventLockBreak = "lock break"
)

// Audit returns the app+environment's deploys and rollbacks, how they ended, the
// autoscaler's scaling actions, and the deploy lock's breaks, by time.
func (s *Store) Audit(ctx context.Context) ([]Event, error) {
	views := s.listAll(ctx, appPrefix(s.app, s.env))
	if err := noneAnswered(views); err != nil {
		return nil, fmt.Errorf("reading the deploy history of %s/%s: %w", s.app, s.env, err)
	}
	recs := resolve(views)
	var events []Event
	services := map[string]bool{}
	breaks := map[string]bool{}
	for _, r := range recs {
		var b breakBody
		var sc scalingBody
		switch {
		case r.Labels[labelRecord] == recordRevision:
			services[r.Labels[labelService]] = true
		case s.decode(r, recordBreak, &b):
			breaks[b.Broken.ID] = true
			events = append(events, b.event())
		case s.decode(r, recordScaling, &sc):
			events = append(events, sc.event())
		}
	}
	for service := range services {
		for _, e := range s.entries(servicePrefix(s.app, s.env, service), service, recs) {
			events = append(events, revisionEvents(e)...)
		}
	}
	last, err := s.lastBreak(ctx, views)
	if err != nil {
		return nil, err
	}
	if last != nil && !breaks[last.ID] {
		events = append(events, breakOf(*last).event())
	}
	sortEvents(events)
	return events, nil
}

// lastBreak asks the lock of the hosts that just answered for its last break: it keeps
// only the newest, and only until the next holder releases (RecordBreak keeps it for good).
func (s *Store) lastBreak(ctx context.Context, views []hostRecords) (*lock.Holder, error) {
	var named []lock.NamedRecords
	for _, v := range views {
		if v.err == nil {
			named = append(named, lock.NamedRecords{Name: v.host.Name(), Records: v.host})
		}
	}
	l, err := lock.NewHostsLocker(named, s.app, s.env, lock.WithHostTimeout(s.hostTimeout))
	if err != nil {
		return nil, err
	}
	last, err := l.LastBreak(ctx)
	if err != nil || last == nil || last.BrokenBy == nil {
		return nil, err
	}
	return last, nil
}

func revisionEvents(e Entry) []Event {
	start := Event{Time: e.Started, Kind: e.Kind, Service: e.Service, Number: e.Number, Who: e.Who, Where: e.Where}
	var text []string
	if e.Trigger != "" {
		text = append(text, e.Trigger)
	}
	if e.Kind == KindRollback {
		text = append(text, fmt.Sprintf("back to revision %d", e.RollbackOf))
	}
	text = append(text, "image "+e.Task.Image)
	if e.Commit != "" {
		commit := "commit " + ShortCommit(e.Commit)
		if e.Message != "" {
			commit += fmt.Sprintf(" %q", e.Message)
		}
		text = append(text, commit)
	}
	start.Text = strings.Join(text, "; ")
	if e.Outcome == InProgress {
		return []Event{start}
	}
	end := start
	end.Time, end.Kind, end.Text = e.Finished, string(e.Outcome), e.Detail
	return []Event{start, end}
}

// ShortCommit shortens a commit id to the 7 characters git prints, keeping "-dirty".
func ShortCommit(c string) string {
	id, dirty := strings.CutSuffix(c, "-dirty")
	if len(id) > 7 {
		id = id[:7]
	}
	if dirty {
		id += "-dirty"
	}
	return id
}

func sortEvents(events []Event) {
	rank := func(e Event) int {
		switch e.Kind {
		case EventDeploy, EventRollback:
			return 0
		case EventLockBreak:
			return 2
		}
		return 1
	}
	sort.SliceStable(events, func(i, j int) bool {
		a, b := events[i], events[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		if a.Number != b.Number {
			return a.Number < b.Number
		}
		return rank(a) < rank(b)
	})
}

// RecordBreak keeps a break of the deploy lock for good (the lock forgets it once the
// next holder releases). broken is as lock's LastBreak returns it, BrokenBy set.
func (s *Store) RecordBreak(ctx context.Context, broken lock.Holder) error {
	if broken.BrokenBy == nil || broken.ID == "" {
		return errors.New("history: a lock break needs the broken holder's id and who broke it")
	}
	pfx := appPrefix(s.app, s.env)
	name := breakName(pfx, broken.ID)
	views := s.listAll(ctx, name)
	if err := noneAnswered(views); err != nil {
		return fmt.Errorf("recording the lock break: %w", err)
	}
	labels, err := s.labels("", recordBreak, breakOf(broken))
	if err != nil {
		return err
	}
	return s.writeAll(ctx, views, name, labels, func(r providers.Record) bool {
		var b breakBody
		return s.decode(r, recordBreak, &b) && b.Broken.ID == broken.ID
	})
}

type breakBody struct {
	V      int        `json:"v"`
	Broken holderJSON `json:"broken"`
	By     holderJSON `json:"by"`
}

// holderJSON is what a break record keeps of a lock holder.
type holderJSON struct {
	ID      string    `json:"id"`
	User    string    `json:"user"`
	Machine string    `json:"machine"`
	PID     int       `json:"pid,omitempty"`
	Command string    `json:"command,omitempty"`
	Why     string    `json:"why,omitempty"`
	Epoch   uint64    `json:"epoch"`
	Since   time.Time `json:"since"`
}

func holderOf(h lock.Holder) holderJSON {
	return holderJSON{ID: h.ID, User: h.User, Machine: h.Machine, PID: h.PID, Command: h.Command, Why: h.Why, Epoch: h.Epoch, Since: h.Since}
}

func (h holderJSON) holder() lock.Holder {
	return lock.Holder{ID: h.ID, User: h.User, Machine: h.Machine, PID: h.PID, Command: h.Command, Why: h.Why, Epoch: h.Epoch, Since: h.Since}
}

func breakOf(broken lock.Holder) breakBody {
	return breakBody{V: bodyVersion, Broken: holderOf(broken), By: holderOf(*broken.BrokenBy)}
}

func (b breakBody) event() Event {
	by, broken := b.By.holder(), b.Broken.holder()
	text := fmt.Sprintf("broke the deploy lock held by %s, running %q, epoch %d", broken, broken.Command, broken.Epoch)
	if by.Command != "" {
		text += fmt.Sprintf(" (%s)", by.Command)
	}
	return Event{Time: by.Since, Kind: EventLockBreak, Who: by.User + "@" + by.Machine, Text: text}
}
