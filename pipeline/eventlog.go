package pipeline

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lock"
)

// The environment's event log (deck events): what deploys, the controller and the lock did,
// kept on the hosts so any machine reads it and losing the one that wrote it loses nothing.
//
// Events are appended in batches, one record per batch on every reachable host, written
// once per phase (the end of a deploy, of a controller's reconcile), never per event: a
// deploy pays for one batch, not one write per task. Each record holds its batch as JSON
// in a label, and its name orders it (the writer's clock in nanoseconds, zero-padded, then
// a random suffix so two writers never collide). After a write, the host's oldest batches
// are removed while the newer ones still hold EventLogSize events: the log is bounded per
// environment, by whole batches (at most EventLogSize plus one batch less one).
const (
	eventLogPrefix     = "deck-log."
	labelEventLog      = "deck.events"
	labelEventLogCount = "deck.events.count"
	// maxBatch bounds one record's events, so its labels stay a few tens of KB (they
	// travel in the create request's URL).
	maxBatch = 100
	// maxMessage bounds one event's message.
	maxMessage = 400
)

// EventLogSize is how many events the log keeps per environment (the oldest go first).
var EventLogSize = 500

// LogEvent is one entry of the event log.
type LogEvent struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Service string    `json:"service,omitempty"`
	Task    string    `json:"task,omitempty"`
	Host    string    `json:"host,omitempty"`
	Message string    `json:"message"`
}

// Kinds of LogEvent besides the executor's task events.
const (
	KindDeployStarted    = "deploy-started"
	KindDeployCompleted  = "deploy-completed"
	KindDeployFailed     = "deploy-failed"
	KindDeployRolledBack = "deploy-rolled-back"
	KindTaskStarted      = "task-started"
	KindTaskHealthy      = "task-healthy"
	KindTaskFailed       = "task-failed"
	KindTaskStopped      = "task-stopped"
	KindTaskDied         = "task-died"
	KindTaskLeft         = "task-left"
	KindHealth           = "health"
	KindSteady           = "steady-state"
	KindBreaker          = "circuit-breaker"
	KindBackoff          = "backoff"
	KindLeftAlone        = "left-alone" // the controller has no revision of the service to run
	KindScaled           = "scaled"
	KindHostLost         = "host-lost"
	KindHostBack         = "host-back"
	KindLockTaken        = "lock-taken"
	KindLockBroken       = "lock-broken"
)

// EventLog gathers events in memory until Flush writes them to the hosts as one batch.
// It is safe for concurrent use (the executor reports from many goroutines).
type EventLog struct {
	mu      sync.Mutex
	pending []LogEvent
	now     func() time.Time
	stopWhy map[string]string // task id -> why it is being stopped, for its stopped event
}

// NewEventLog returns an empty log; now stamps events added without a time (nil: time.Now).
func NewEventLog(now func() time.Time) *EventLog {
	if now == nil {
		now = time.Now
	}
	return &EventLog{now: now}
}

// Add keeps e until the next Flush. A nil log keeps nothing.
func (l *EventLog) Add(e LogEvent) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	if len(e.Message) > maxMessage {
		e.Message = e.Message[:maxMessage-3] + "..."
	}
	l.pending = append(l.pending, e)
}

// Executor adds what an executor event says, when it is one the log keeps (task started,
// healthy, failed, stopped; the breaker; a service done or failed), as an ECS-style sentence.
func (l *EventLog) Executor(e executor.Event) {
	if l == nil {
		return
	}
	if e.Kind == executor.EventTaskStopping {
		l.mu.Lock()
		if l.stopWhy == nil {
			l.stopWhy = map[string]string{}
		}
		l.stopWhy[e.TaskID] = e.Message
		l.mu.Unlock()
		return
	}
	if e.Kind == executor.EventTaskStopped {
		// Why it was stopped, and how it went when that is worth saying (killed after its
		// stop_timeout).
		l.mu.Lock()
		why := l.stopWhy[e.TaskID]
		delete(l.stopWhy, e.TaskID)
		l.mu.Unlock()
		e.Message = strings.Join(slices.DeleteFunc([]string{why, e.Message}, func(s string) bool { return s == "" }), "; ")
	}
	if le, ok := FromExecutor(e); ok {
		l.Add(le)
	}
}

// Pending is how many events wait for Flush.
func (l *EventLog) Pending() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}

// Flush writes the pending events to every reachable host of s as one batch (or a few of
// maxBatch), then trims each host's log to EventLogSize. Nothing pending writes nothing.
// The events leave the log whether or not every host took them: a host that was down
// misses them, as it misses the desired state.
func (l *EventLog) Flush(ctx context.Context, s *Session) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	evs := l.pending
	l.pending = nil
	l.mu.Unlock()
	return AppendEvents(ctx, s, evs...)
}

func eventLogName(app, env string) string {
	sum := sha256.Sum256([]byte(app + "\x00" + env))
	return eventLogPrefix + hex.EncodeToString(sum[:])[:16] + "."
}

// AppendEvents writes evs to every reachable host now (see EventLog.Flush).
func AppendEvents(ctx context.Context, s *Session, evs ...LogEvent) error {
	if len(evs) == 0 {
		return nil
	}
	app, env := s.T.App.Name, s.T.Env.Name
	prefix := eventLogName(app, env)
	type batch struct {
		name   string
		labels map[string]string
	}
	var batches []batch
	for i := 0; i < len(evs); i += maxBatch {
		part := evs[i:min(i+maxBatch, len(evs))]
		b, err := json.Marshal(part)
		if err != nil {
			return err
		}
		var suffix [3]byte
		_, _ = rand.Read(suffix[:])
		// The newest event's time names the batch, so names sort as their events do.
		name := fmt.Sprintf("%s%019d-%s", prefix, part[len(part)-1].Time.UnixNano(), hex.EncodeToString(suffix[:]))
		batches = append(batches, batch{name, map[string]string{labelApp: app, labelEnv: env,
			labelEventLog: string(b), labelEventLogCount: strconv.Itoa(len(part))}})
	}
	var mu sync.Mutex
	var errs []error
	forHosts(s, func(h providers.Host) {
		for _, b := range batches {
			if err := h.CreateRecord(ctx, b.name, b.labels); err != nil && !errors.Is(err, providers.ErrExists) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("recording events on host %s: %w", h.Name(), err))
				mu.Unlock()
				return
			}
		}
		trimEventLog(ctx, h, prefix)
	})
	return errors.Join(errs...)
}

// trimEventLog removes h's oldest batches beyond those that hold the newest EventLogSize
// events. Best effort: a batch left over is removed by the next write.
func trimEventLog(ctx context.Context, h providers.Host, prefix string) {
	recs, err := h.ListRecords(ctx, prefix)
	if err != nil {
		return
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Name > recs[j].Name }) // newest first
	kept := 0
	for _, r := range recs {
		if kept >= EventLogSize {
			_ = h.RemoveRecord(ctx, r.Name)
			continue
		}
		n, _ := strconv.Atoi(r.Labels[labelEventLogCount])
		kept += n
	}
}

// ReadEventLog returns the environment's events from the reachable hosts, oldest first: the
// union of every host's batches (a batch is on each host that was reachable when it was
// written), ordered by time, then by their order in their batch. When since is set, only
// events after it. Hosts that could not be read are named in the error, which is nil when
// at least one was read.
func ReadEventLog(ctx context.Context, s *Session, since time.Time) ([]LogEvent, error) {
	app, env := s.T.App.Name, s.T.Env.Name
	prefix := eventLogName(app, env)
	var mu sync.Mutex
	seen := map[string]bool{}
	type entry struct {
		batch string
		i     int
		e     LogEvent
	}
	var all []entry
	var errs []error
	read := 0
	forHosts(s, func(h providers.Host) {
		recs, err := h.ListRecords(ctx, prefix)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		read++
		for _, r := range recs {
			if seen[r.Name] || r.Labels[labelApp] != app || r.Labels[labelEnv] != env {
				continue
			}
			seen[r.Name] = true
			var evs []LogEvent
			if json.Unmarshal([]byte(r.Labels[labelEventLog]), &evs) != nil {
				continue
			}
			for i, e := range evs {
				if !since.IsZero() && !e.Time.After(since) {
					continue
				}
				all = append(all, entry{r.Name, i, e})
			}
		}
	})
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if !a.e.Time.Equal(b.e.Time) {
			return a.e.Time.Before(b.e.Time)
		}
		if a.batch != b.batch {
			return a.batch < b.batch
		}
		return a.i < b.i
	})
	out := make([]LogEvent, len(all))
	for i, en := range all {
		out[i] = en.e
	}
	if read == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// FromExecutor turns an executor event into a log entry, for the kinds the log keeps.
func FromExecutor(e executor.Event) (LogEvent, bool) {
	le := LogEvent{Time: e.Time, Service: e.Service, Task: e.TaskID, Host: e.Host}
	svc := "(service " + e.Service + ")"
	detail := strings.TrimSpace(e.Message)
	with := func(s string) string {
		if detail == "" {
			return s + "."
		}
		return s + ": " + detail
	}
	switch e.Kind {
	case executor.EventTaskStarted:
		le.Kind, le.Message = KindTaskStarted, fmt.Sprintf("%s has started 1 tasks: (task %s) on %s.", svc, e.TaskID, e.Host)
	case executor.EventTaskHealthy:
		le.Kind, le.Message = KindTaskHealthy, fmt.Sprintf("%s (task %s) on %s is healthy.", svc, e.TaskID, e.Host)
	case executor.EventTaskFailed:
		le.Kind, le.Message = KindTaskFailed, with(fmt.Sprintf("%s (task %s) on %s failed", svc, e.TaskID, e.Host))
	case executor.EventTaskStopped:
		le.Kind, le.Message = KindTaskStopped, with(fmt.Sprintf("%s has stopped 1 running tasks: (task %s) on %s", svc, e.TaskID, e.Host))
	case executor.EventTaskLeft:
		le.Kind, le.Message = KindTaskLeft, with(fmt.Sprintf("%s could not stop (task %s) on %s", svc, e.TaskID, e.Host))
	case executor.EventBreaker:
		le.Kind, le.Message = KindBreaker, with(svc+" deployment circuit breaker: the rollout stops")
	case executor.EventServiceDone:
		le.Kind, le.Message = KindSteady, svc+" has reached a steady state."
	case executor.EventServiceFailed:
		le.Kind, le.Message = KindDeployFailed, with(svc+" failed to reach a steady state")
	default:
		return LogEvent{}, false
	}
	if le.Time.IsZero() {
		le.Time = time.Now()
	}
	return le, true
}

// logLock notes that the run took the deploy lock, and when the previous holder's hold
// ended badly (its lease expired: a killed or hung deploy or controller; or it was broken),
// says so.
func (d Deploy) logLock(lease Lease) {
	who := "a deploy"
	if d.Heal {
		who = "the controller"
	}
	msg := fmt.Sprintf("The deploy lock was taken by %s (epoch %d)", who, lease.Epoch())
	if p, ok := lease.(interface{ Previous() *lock.Previous }); ok {
		if prev := p.Previous(); prev != nil {
			switch {
			case prev.BrokenBy != nil:
				msg += fmt.Sprintf("; the previous holder's lease (%s) had been broken by %s", holderName(prev.Holder), holderName(*prev.BrokenBy))
			case prev.Expired:
				msg += fmt.Sprintf("; the previous holder's lease (%s) had expired", holderName(prev.Holder))
			}
		}
	}
	d.Log.Add(LogEvent{Kind: KindLockTaken, Message: msg + "."})
}

// holderName names a lock holder in a sentence: user@machine, pid N.
func holderName(h lock.Holder) string {
	s := h.User + "@" + h.Machine
	if h.PID > 0 {
		s += fmt.Sprintf(", pid %d", h.PID)
	}
	return s
}

// touched reports whether the plan changes anything of the service: a deploy of several
// services says nothing in the event log about those it leaves as they are.
func touched(plan *planner.Plan, service string) bool {
	return plan != nil && slices.ContainsFunc(plan.Changes, func(c planner.Change) bool { return c.Service == service })
}

// logStart notes the services a deploy starts rolling out, with their revision numbers.
func (d Deploy) logStart(plan *planner.Plan, nums map[string]int) {
	for _, svc := range sortedKeys(nums) {
		if !touched(plan, svc) {
			continue
		}
		d.Log.Add(LogEvent{Kind: KindDeployStarted, Service: svc,
			Message: fmt.Sprintf("(service %s) deployment of revision %d started.", svc, nums[svc])})
	}
}

// logOutcome notes how each service's deployment ended (not the controller's heals: their
// tasks' events say what they did).
func (d Deploy) logOutcome(out *Outcome, err error) {
	if d.Log == nil || d.Heal || out == nil {
		return
	}
	rolled := map[string]bool{}
	for _, sr := range out.Rollbacks {
		rolled[sr.Name] = true
	}
	// As deck history records it (Deploy.finish): a service whose own rollout ended
	// without an error completed, whatever happened to the others of the deploy.
	failed, done := map[string]string{}, map[string]bool{}
	if out.Result != nil {
		for _, sr := range out.Result.Services {
			if sr.Err != nil {
				failed[sr.Name] = oneLine(sr.Err)
			} else {
				done[sr.Name] = true
			}
		}
	}
	for _, svc := range sortedKeys(out.Revisions) {
		if !touched(out.Plan, svc) {
			continue
		}
		n := out.Revisions[svc]
		switch {
		case rolled[svc]:
			d.Log.Add(LogEvent{Kind: KindDeployRolledBack, Service: svc,
				Message: fmt.Sprintf("(service %s) deployment of revision %d was rolled back: %s", svc, n, oneLine(err))})
		case failed[svc] != "":
			d.Log.Add(LogEvent{Kind: KindDeployFailed, Service: svc,
				Message: fmt.Sprintf("(service %s) deployment of revision %d failed: %s", svc, n, failed[svc])})
		case err != nil && !done[svc]:
			d.Log.Add(LogEvent{Kind: KindDeployFailed, Service: svc,
				Message: fmt.Sprintf("(service %s) deployment of revision %d failed: %s", svc, n, oneLine(err))})
		default:
			d.Log.Add(LogEvent{Kind: KindDeployCompleted, Service: svc,
				Message: fmt.Sprintf("(service %s) deployment of revision %d completed.", svc, n)})
		}
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
