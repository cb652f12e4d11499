package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/deckhq/deck/providers"
)

// A service's latest event, as the controller saw it ("(service web) is unable to
// consistently start tasks successfully." and the stop reason), is kept on the hosts so
// deck status shows it from any machine: one record per service, a new generation only
// when it changes (like the desired state).
const (
	eventPrefix    = "deck-event."
	labelEventText = "deck.event"
	labelEventWhy  = "deck.event.reason"
	labelEventTime = "deck.event.time"
	labelEventFail = "deck.event.failures"
)

// ServiceEvent is a service's latest event.
type ServiceEvent struct {
	Time     time.Time `json:"time"`
	Message  string    `json:"message"`
	Reason   string    `json:"reason,omitempty"` // the stop reason of the last failed task
	Failures int       `json:"failures,omitempty"`
}

func eventRecordPrefix(app, env, service string) string {
	sum := sha256.Sum256([]byte(app + "\x00" + env + "\x00" + service))
	return eventPrefix + hex.EncodeToString(sum[:])[:16] + ".g"
}

// WriteServiceEvent records a service's latest event on every reachable host.
func WriteServiceEvent(ctx context.Context, s *Session, service string, ev ServiceEvent) error {
	app, env := s.T.App.Name, s.T.Env.Name
	var mu sync.Mutex
	var errs []error
	forHosts(s, func(h providers.Host) {
		labels := map[string]string{labelApp: app, labelEnv: env, labelService: service,
			labelEventText: ev.Message, labelEventWhy: ev.Reason, labelEventTime: ev.Time.UTC().Format(time.RFC3339),
			labelEventFail: strconv.Itoa(ev.Failures)}
		if err := writeRecord(ctx, s, h, eventRecordPrefix(app, env, service), labels); err != nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("recording an event of service %s on host %s: %w", service, h.Name(), err))
			mu.Unlock()
		}
	})
	return errors.Join(errs...)
}

// ReadServiceEvents returns each service's latest recorded event, from the reachable hosts.
func ReadServiceEvents(ctx context.Context, s *Session) map[string]ServiceEvent {
	app, env := s.T.App.Name, s.T.Env.Name
	out := map[string]ServiceEvent{}
	gens := map[string]recordOrder{}
	var mu sync.Mutex
	forHosts(s, func(h providers.Host) {
		recs, err := h.ListRecords(ctx, eventPrefix)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range recs {
			l := r.Labels
			if l[labelApp] != app || l[labelEnv] != env {
				continue
			}
			name, o := l[labelService], orderOf(r)
			if g, ok := gens[name]; ok && !o.after(g) {
				continue
			}
			at, _ := time.Parse(time.RFC3339, l[labelEventTime])
			n, _ := strconv.Atoi(l[labelEventFail])
			gens[name] = o
			out[name] = ServiceEvent{Time: at, Message: l[labelEventText], Reason: l[labelEventWhy], Failures: n}
		}
	})
	return out
}
