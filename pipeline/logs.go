package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/history"
)

// deck logs: the lines of a service's tasks on every host, merged in time order, and
// followed across task replacements and host reconnects.

// LogsRequest says whose lines to read.
type LogsRequest struct {
	Service string // the service (or Scheduled Job) whose tasks to read
	Task    string // only this task: its id, or the start of it
	Run     string // only this job run's attempts (its id, as deck job history names it)
	// Previous reads the tasks that no longer run (stopped or failed, still on the hosts)
	// and those of revisions older than the service's newest one, instead of the running ones.
	Previous bool
	Since    time.Time // skip lines written before it (zero: all)
	Tail     int       // the last Tail lines of each task (< 0: all)
	Follow   bool      // keep going: new tasks join, stopped ones leave
	// ToNow, without Follow, reads each task's lines up to the time its host's clock gave
	// as deck listed the hosts (providers.LogOptions.Until), so a task that writes faster
	// than deck reads does not keep deck reading for ever.
	ToNow bool
	// Hold is how long a followed line waits for earlier lines of other hosts (default
	// 300ms); Poll how often the hosts are listed again for new tasks (default 1s).
	Hold, Poll time.Duration
}

// TaskLine is one line a task wrote, or (Event set) a note about the task in its stream.
type TaskLine struct {
	Time     time.Time
	Task     string
	Host     string
	Service  string
	Revision string
	Stream   string // "stdout", "stderr" ("" for an event)
	Line     string
	// Event is "stopped" (Line says why, as deck status does) or "removed" (the task's
	// container was removed while it was read); "" for a line the task wrote.
	Event string
}

// Logs gives the selected tasks' lines to emit, in time order, from one goroutine. note
// gets what happens to the hosts and to reading them ("host h2 does not answer ..."). It
// returns when every task's lines are read, or, with Follow, when ctx ends.
func (s *Session) Logs(ctx context.Context, req LogsRequest, emit func(TaskLine), note func(string)) error {
	if req.Hold <= 0 {
		req.Hold = 300 * time.Millisecond
	}
	if req.Poll <= 0 {
		req.Poll = time.Second
	}
	// Each host's clock is read while the hosts are listed: one round trip in the time of
	// another, not one per task.
	var nows map[string]time.Time
	read := make(chan struct{})
	go func() {
		defer close(read)
		if req.ToNow && !req.Follow {
			nows = hostNows(ctx, s)
		}
	}()
	err := s.List(ctx)
	<-read
	if err != nil {
		return err
	}
	current := ""
	if req.Previous && req.Service != "" {
		current = s.currentRevision(ctx, req.Service)
	}
	tasks := s.logTasks(req, current)
	if len(tasks) == 0 && (!req.Follow || req.Task != "") {
		return s.noTasks(req)
	}
	f := &logFollower{s: s, req: req, m: newMerger(req.Hold), note: note, started: map[string]bool{}}
	first := providers.LogOptions{Since: req.Since, Tail: req.Tail}
	for _, t := range tasks {
		o := first
		o.Until = nows[t.Host] // zero when its clock could not be read: to the end of its log
		f.start(ctx, t, o)
	}
	if req.Follow && req.Task == "" && !req.Previous {
		f.wg.Add(1)
		go f.watchHosts(ctx)
	} else {
		f.m.close()
	}
	f.m.run(ctx, emit)
	f.wg.Wait()
	return nil
}

// hostNows reads the reachable hosts' clocks.
func hostNows(ctx context.Context, s *Session) map[string]time.Time {
	out := map[string]time.Time{}
	var mu sync.Mutex
	forHosts(s, func(h providers.Host) {
		if now, err := h.Now(ctx); err == nil {
			mu.Lock()
			out[h.Name()] = now
			mu.Unlock()
		}
	})
	return out
}

// logTasks are the tasks of the last listing that req selects. current is the service's
// newest revision (for Previous).
func (s *Session) logTasks(req LogsRequest, current string) []providers.Task {
	var out []providers.Task
	for _, h := range s.Obs.Hosts {
		for _, t := range h.Tasks {
			if req.matches(t, current) {
				out = append(out, t)
			}
		}
	}
	return out
}

func (req LogsRequest) matches(t providers.Task, current string) bool {
	if req.Service != "" && t.Service != req.Service {
		return false
	}
	switch {
	case req.Task != "":
		return strings.HasPrefix(t.TaskID, req.Task)
	case req.Run != "":
		return t.Meta.Kind == providers.KindJobRun && t.Meta.Run == req.Run && (!req.Previous || !t.Running())
	case t.Meta.Kind == providers.KindStandalone:
		return false // deck task run's tasks are nobody's; --task reads them
	case req.Previous:
		return !t.Running() || current != "" && t.Revision != current
	}
	return t.Running()
}

// noTasks says why nothing was selected, and what would be.
func (s *Session) noTasks(req LogsRequest) error {
	switch {
	case req.Task != "":
		return fmt.Errorf("no task %s on the reachable hosts", req.Task)
	case req.Run != "":
		return fmt.Errorf("no run %s on the reachable hosts (deck job history lists the runs kept)", req.Run)
	}
	others := 0
	var services []string // those that have tasks, for a name mistyped
	for _, h := range s.Obs.Hosts {
		for _, t := range h.Tasks {
			if t.Meta.Kind == providers.KindStandalone {
				continue
			}
			if t.Service == req.Service {
				others++
			} else if !slices.Contains(services, t.Service) {
				services = append(services, t.Service)
			}
		}
	}
	switch {
	case others == 0 && len(services) > 0:
		slices.Sort(services)
		return fmt.Errorf("service %s has no tasks on the reachable hosts; services that have some: %s", req.Service, strings.Join(services, ", "))
	case others == 0:
		return fmt.Errorf("service %s has no tasks on the reachable hosts", req.Service)
	case req.Previous:
		return fmt.Errorf("service %s has no stopped tasks and none of an older revision on the reachable hosts", req.Service)
	}
	return fmt.Errorf("service %s has no running tasks; %d stopped ones are kept (--previous reads them)", req.Service, others)
}

// currentRevision is the id of the service's newest revision that completed or is in
// progress, by its history ("" when none is known).
func (s *Session) currentRevision(ctx context.Context, service string) string {
	entries, err := s.history().List(ctx, service)
	if err != nil {
		return ""
	}
	for i := len(entries) - 1; i >= 0; i-- {
		if o := entries[i].Outcome; o == history.Completed || o == history.InProgress {
			return entries[i].ID
		}
	}
	return ""
}

// logFollower reads the tasks' logs into one merger.
type logFollower struct {
	s       *Session
	req     LogsRequest
	m       *merger
	note    func(string)
	wg      sync.WaitGroup
	mu      sync.Mutex
	started map[string]bool // by host/container: each task is read by one goroutine, once
	nextSrc int
}

// start reads t's log from first on, unless it is being read already.
func (f *logFollower) start(ctx context.Context, t providers.Task, first providers.LogOptions) {
	key := t.Host + "/" + t.ContainerID
	f.mu.Lock()
	if f.started[key] {
		f.mu.Unlock()
		return
	}
	f.started[key] = true
	src := f.nextSrc
	f.nextSrc++
	f.mu.Unlock()
	f.m.add(src)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer f.m.done(src)
		f.stream(ctx, t, src, first)
	}()
}

func taskLine(t providers.Task, l providers.LogLine) TaskLine {
	return TaskLine{Time: l.Time, Task: t.TaskID, Host: t.Host, Service: t.Service, Revision: t.Revision,
		Stream: l.Stream, Line: l.Text}
}
