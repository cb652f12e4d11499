package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/history"
)

// What the autoscaler writes. The count it sets is the service's desired state record
// (what deck deploy keeps and the controller's reconcile reads back); each action goes to
// the audit trail (deck history); and a small record per service keeps the last action,
// when the service last scaled out and in, and why it does not scale in now, so deck
// status shows them and a restarted controller resumes its cooldowns. That record gets a
// new generation only when it changes (like the desired state).
//
// These writes do not take the deploy lock: the caller holds it (the controller acts
// under it), so a deploy cannot read the count before a scaling action and write its
// own after it.
const (
	scalePrefix = "deck-scale."
	labelScale  = "deck.scale"
)

// ScaleState is what the autoscaler last did to a service and why it does not scale in.
// Times are by the hosts' clocks, except NoScaleInSince (the controller's).
type ScaleState struct {
	Last    *ScaleAction `json:"last,omitempty"`
	LastOut time.Time    `json:"last_out,omitzero"` // the last scale-out; zero: none
	LastIn  time.Time    `json:"last_in,omitzero"`
	// NoScaleIn is why the service does not scale in now ("" when it may, or did).
	NoScaleIn      string    `json:"no_scale_in,omitempty"`
	NoScaleInSince time.Time `json:"no_scale_in_since,omitzero"`
}

// ScaleAction is one change of a service's count by the autoscaler.
type ScaleAction struct {
	Time   time.Time `json:"time"`
	From   int       `json:"from"`
	To     int       `json:"to"`
	Reason string    `json:"reason"`
}

func scaleRecordPrefix(app, env, service string) string {
	sum := sha256.Sum256([]byte(app + "\x00" + env + "\x00" + service))
	return scalePrefix + hex.EncodeToString(sum[:])[:16] + ".g"
}

// SetDesiredCount makes count the desired count of service, a service with a count range
// (count within it): it writes the service's desired state record with the new count on
// every reachable host, records the action and its reason in the audit trail, and keeps
// it as the service's last scaling action. A count that is already the desired one
// writes nothing. The tasks follow at the next reconcile, which reads the record back.
// fenceFn, when set, is asked before each write (each host's record, the audit trail, the
// scaling state), so a controller paused past its lease between them writes no more.
func SetDesiredCount(ctx context.Context, s *Session, service string, count int, reason string, fenceFn func() error) error {
	recs, err := readDesired(ctx, s)
	if err != nil {
		return fmt.Errorf("reading the desired state of service %s: %w", service, err)
	}
	rec, ok := recs[service]
	if !ok {
		return fmt.Errorf("service %s has no desired state on the hosts of %s/%s; deploy it first", service, s.T.App.Name, s.T.Env.Name)
	}
	d := rec.State
	switch r := d.Count.Range; {
	case r == nil:
		return fmt.Errorf("service %s has a fixed count (%d); only a service with a count range is scaled", service, d.Count.Value)
	case count < r.Min || count > r.Max:
		return fmt.Errorf("count %d is outside the range %d-%d of service %s", count, r.Min, r.Max, service)
	case count == d.Count.Value:
		return nil
	}
	from := d.Count.Value
	d.Count.Value = count
	if err := writeDesiredState(ctx, s, service, d, fenceFn); err != nil {
		return err
	}
	if err := fence(fenceFn); err != nil {
		return err
	}
	sc, herr := s.history().RecordScaling(ctx, history.Scaling{Service: service, From: from, To: count, Reason: reason, Who: controllerWho()})
	if herr != nil {
		herr = fmt.Errorf("service %s now has a desired count of %d, but the audit trail missed it: %w", service, count, herr)
		sc.Time = time.Now()
	}
	st, _ := readScaleState(ctx, s, service) // none yet, or unreadable: start afresh
	st.Last = &ScaleAction{Time: sc.Time, From: from, To: count, Reason: reason}
	if count > from {
		st.LastOut = sc.Time
	} else {
		st.LastIn, st.NoScaleIn, st.NoScaleInSince = sc.Time, "", time.Time{}
	}
	return errors.Join(herr, writeScaleState(ctx, s, service, st, fenceFn))
}

// RecordNoScaleIn keeps why service does not scale in now ("" when nothing holds it
// back), when it differs from what the hosts keep: an unchanged reason writes nothing.
// Each call reads the record; a caller that calls it often calls it only when the reason
// changed. fenceFn is as SetDesiredCount's.
func RecordNoScaleIn(ctx context.Context, s *Session, service, reason string, fenceFn func() error) error {
	st, err := readScaleState(ctx, s, service)
	if err != nil {
		return err
	}
	if st.NoScaleIn == reason {
		return nil
	}
	st.NoScaleIn, st.NoScaleInSince = reason, time.Time{}
	if reason != "" {
		st.NoScaleInSince = time.Now()
	}
	return writeScaleState(ctx, s, service, st, fenceFn)
}

// ReadScaleStates returns each service's scaling state, from the reachable hosts (the
// newest generation wins). It fails only when no host answered.
func ReadScaleStates(ctx context.Context, s *Session) (map[string]ScaleState, error) {
	app, env := s.T.App.Name, s.T.Env.Name
	out := map[string]ScaleState{}
	gens := map[string]recordOrder{}
	var mu sync.Mutex
	var errs []error
	answered := false
	forHosts(s, func(h providers.Host) {
		recs, err := h.ListRecords(ctx, scalePrefix)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		answered = true
		for _, r := range recs {
			l := r.Labels
			o := orderOf(r)
			var st ScaleState
			if l[labelApp] != app || l[labelEnv] != env || json.Unmarshal([]byte(l[labelScale]), &st) != nil {
				continue
			}
			if g, ok := gens[l[labelService]]; !ok || o.after(g) {
				gens[l[labelService]], out[l[labelService]] = o, st
			}
		}
	})
	if !answered && len(errs) > 0 {
		return nil, fmt.Errorf("reading the scaling state: %w", errors.Join(errs...))
	}
	return out, nil
}

func readScaleState(ctx context.Context, s *Session, service string) (ScaleState, error) {
	all, err := ReadScaleStates(ctx, s)
	return all[service], err
}

func writeScaleState(ctx context.Context, s *Session, service string, st ScaleState, fenceFn func() error) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return writeServiceRecord(ctx, s, service, scaleRecordPrefix, labelScale, string(b), "the scaling state", fenceFn)
}

// writeDesiredState records one service's desired state on every reachable host.
func writeDesiredState(ctx context.Context, s *Session, service string, d providers.DesiredState, fenceFn func() error) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return writeServiceRecord(ctx, s, service, desiredPrefix, labelDesired, string(b), "the desired state", fenceFn)
}

// writeServiceRecord writes the next generation of one of a service's records on every
// reachable host where it differs, asking fenceFn (when set) before each. It fails when a
// host did not take it.
func writeServiceRecord(ctx context.Context, s *Session, service string, prefix func(app, env, service string) string, key, value, what string, fenceFn func() error) error {
	app, env := s.T.App.Name, s.T.Env.Name
	var mu sync.Mutex
	var errs []error
	forHosts(s, func(h providers.Host) {
		labels := map[string]string{labelApp: app, labelEnv: env, labelService: service, key: value}
		err := fence(fenceFn)
		if err == nil {
			err = writeRecord(ctx, s, h, prefix(app, env, service), labels)
		}
		if err != nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("recording %s of service %s on host %s: %w", what, service, h.Name(), err))
			mu.Unlock()
		}
	})
	return errors.Join(errs...)
}

// controllerWho names the autoscaler in the audit trail: the machine it runs on.
func controllerWho() string {
	host, _ := os.Hostname()
	return "autoscaler@" + host
}
