package pipeline

import (
	"context"
	"sort"
	"time"

	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
)

// A job's runs are read back from their containers' labels: each attempt of a run is one
// container labelled with the job (as its service), the run id, the attempt number, what
// started it and when. The newest finished runs' containers are kept as the job's history.

// startGrace is how long a run's container may stay "created" (deck creates, then starts
// it) before it counts as failed to start: the start failed, or deck died in between.
const startGrace = 10 * time.Second

// outcome is where a run, or one attempt of it, stands.
type outcome int

const (
	active    outcome = iota // running, or about to (created, or just ended: Podman settles its exit)
	succeeded                // exited 0
	failed                   // exited non-zero, OOM-killed, never started
	cancelled                // failed, and stopped by hand (deck job stop): not tried again
)

// jobRun is one run of a job: its attempts, in attempt order.
type jobRun struct {
	id       string
	attempts []state.TaskState
}

// start is when the run's first attempt started (deck's clock): the schedule counts from it.
func (r jobRun) start() time.Time { return r.attempts[0].Meta.Started }

// last is the run's newest attempt: it says where the run stands.
func (r jobRun) last() state.TaskState { return r.attempts[len(r.attempts)-1] }

// runsOf groups a job's run containers of the snapshot into runs, oldest first.
func runsOf(snap *state.Snapshot, job string) []jobRun {
	byID := map[string]*jobRun{}
	var out []*jobRun
	for _, t := range snap.TasksByService(job) {
		if t.Meta.Kind != providers.KindJobRun || t.Meta.Run == "" {
			continue
		}
		r := byID[t.Meta.Run]
		if r == nil {
			r = &jobRun{id: t.Meta.Run}
			byID[t.Meta.Run] = r
			out = append(out, r)
		}
		r.attempts = append(r.attempts, t)
	}
	runs := make([]jobRun, 0, len(out))
	for _, r := range out {
		sort.Slice(r.attempts, func(i, j int) bool { return r.attempts[i].Meta.Attempt < r.attempts[j].Meta.Attempt })
		runs = append(runs, *r)
	}
	sort.SliceStable(runs, func(i, j int) bool {
		if !runs[i].start().Equal(runs[j].start()) {
			return runs[i].start().Before(runs[j].start())
		}
		return runs[i].id < runs[j].id
	})
	return runs
}

// attemptOutcome says where one attempt stands at now. An attempt on a host that did not
// answer counts as running when it was last seen running: better a run late than two at
// once.
func attemptOutcome(t state.TaskState, now time.Time) outcome {
	switch {
	case t.Running() || t.State == "paused":
		return active
	case !t.HostReachable:
		return succeeded // not running when last seen: it holds no slot, and is not retried blind
	case t.State == "created":
		if now.Sub(t.Meta.Started) < startGrace {
			return active
		}
		return failed
	case t.State == "stopped" && (t.FinishedAt.IsZero() || now.Sub(t.FinishedAt) < settleFor):
		return active // the exit code is not recorded yet
	case t.ExitCode == 0 && !t.OOMKilled && !timedOut(*t.Task):
		return succeeded
	}
	return failed
}

// JobRun is one attempt of one run of a job, as deck job history shows it.
type JobRun struct {
	Job         string        `json:"job"`
	Run         string        `json:"run"`
	Attempt     int           `json:"attempt"`
	Trigger     string        `json:"trigger"` // schedule, manual or retry
	Host        string        `json:"host"`
	TaskID      string        `json:"task_id"`
	ContainerID string        `json:"container_id"`
	Revision    string        `json:"revision"`
	State       string        `json:"state"`
	Started     time.Time     `json:"started"`            // when deck started it (deck's clock)
	Finished    time.Time     `json:"finished,omitzero"`  // when it ended (the host's clock); zero while it runs
	Duration    time.Duration `json:"duration,omitempty"` // how long it ran; zero while it runs
	ExitCode    int           `json:"exit_code"`
	Reason      string        `json:"reason,omitempty"` // why it ended as it did ("" when it exited 0)
}

// JobHistory lists the runs of a job kept on the hosts (those of the session's last read),
// newest first, each attempt of a run on its own line. Each container is inspected: a
// listing gives times to the second and no OOM kill.
func (s *Session) JobHistory(ctx context.Context, job string) []JobRun {
	var out []JobRun
	stops := recordedJobStops(ctx, s, job)
	for _, r := range runsOf(s.Snap, job) {
		for i, st := range r.attempts {
			t := *st.Task
			if h := s.Fleet.Host(t.Host); h != nil {
				if got, err := h.Inspect(ctx, t.ContainerID); err == nil {
					got.Host = t.Host
					t = got
				}
			}
			jr := JobRun{Job: job, Run: r.id, Attempt: t.Meta.Attempt, Trigger: t.Meta.Trigger, Host: t.Host,
				TaskID: t.TaskID, ContainerID: t.ContainerID, Revision: t.Revision, State: t.State,
				Started: t.Meta.Started, ExitCode: t.ExitCode, Reason: StopReason(t)}
			if !t.Running() && !t.FinishedAt.IsZero() {
				jr.Finished, jr.Duration = t.FinishedAt, ranFor(t)
			}
			if stop, ok := stops[r.id]; ok && i == len(r.attempts)-1 && !t.Running() {
				jr.Reason = stop.reason()
			}
			out = append(out, jr)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// ranFor is how long a finished container ran, by the host's clock (0 when it never ran;
// Podman can stamp a task of a few ms as finished before it started).
func ranFor(t providers.Task) time.Duration {
	from := t.StartedAt
	if from.IsZero() {
		from = t.Meta.Started
	}
	if from.IsZero() || t.FinishedAt.IsZero() {
		return 0
	}
	return max(t.FinishedAt.Sub(from), 0)
}

// RunAttempt finds attempt of job's run in the session's last read (call List first).
func (s *Session) RunAttempt(job, run string, attempt int) (RunningTask, bool) {
	for _, r := range runsOf(s.Snap, job) {
		if r.id != run {
			continue
		}
		for _, t := range r.attempts {
			if t.Meta.Attempt == attempt {
				return RunningTask{Host: t.Host, TaskID: t.TaskID, ContainerID: t.ContainerID}, true
			}
		}
	}
	return RunningTask{}, false
}
