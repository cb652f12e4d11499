package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
)

// Scheduled Jobs run here: ReconcileJobs starts the runs that are due, retries failed ones,
// stops those past their timeout and keeps each job's history to its newest runs; StartJob
// starts one run at once (deck job run). Both work from the session's last read and write
// only through the fleet's connections, fenced like a deploy.

// Triggers: what started a run (LabelTrigger).
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
	TriggerRetry    = "retry"
)

// Defaults of JobOptions.
const (
	DefaultKeepRuns      = 10
	DefaultTaskRetention = time.Hour
)

// JobOptions tune ReconcileJobs and StartJob.
type JobOptions struct {
	// Epoch is stamped on every container created (the fencing epoch of the deploy lock
	// held); Fence, when set, is asked before every write, as executor.Options.Fence.
	Epoch uint64
	Fence func() error
	// Jobs are the jobs to reconcile (nil: ReadJobs reads them from the hosts). A caller
	// that runs often keeps them and reads them again when a deploy may have changed them.
	Jobs []Job
	// KeepRuns is how many finished runs of each job keep their containers, as its
	// history (default DefaultKeepRuns).
	KeepRuns int
	// TaskRetention is how long an ended standalone task (deck task run --detach) is kept
	// before it is removed (default DefaultTaskRetention).
	TaskRetention time.Duration

	dry bool // PendingJobs: say what would be done, do nothing
}

// JobActionKind says what ReconcileJobs or StartJob did.
type JobActionKind string

const (
	JobStarted  JobActionKind = "started"   // a run (or a retry of one: Trigger) started
	JobFailed   JobActionKind = "failed"    // a run could not be started (Err); a retry may follow
	JobTimedOut JobActionKind = "timed-out" // a run past its timeout was stopped
	JobRemoved  JobActionKind = "removed"   // an old finished run's containers were removed
	// JobWaiting: a run is due but Concurrency runs are going; it starts once one ends.
	// It is reported on every call while it waits.
	JobWaiting JobActionKind = "waiting"
)

// JobAction is one thing done (or not) for a job.
type JobAction struct {
	Kind      JobActionKind
	Job       string
	Run       string
	Attempt   int
	Trigger   string
	Host      string
	TaskID    string
	Container string
	Detail    string // in words: why, or what
	Err       error  // JobFailed's cause
}

// Writes reports whether the action changes the hosts (all but JobWaiting do).
func (a JobAction) Writes() bool { return a.Kind != JobWaiting }

func (a JobAction) String() string {
	s := fmt.Sprintf("job %s: %s", a.Job, a.Kind)
	if a.Run != "" {
		s += fmt.Sprintf(" run %s (attempt %d)", a.Run, a.Attempt)
	}
	if a.Host != "" {
		s += " on " + a.Host
	}
	if a.Detail != "" {
		s += ": " + a.Detail
	}
	return s
}

// ErrJobBusy is returned by StartJob when the job already has its concurrency of runs.
var ErrJobBusy = errors.New("the job already runs as many runs as its concurrency allows")

// ReconcileJobs does, at now (deck's clock), what every Scheduled Job of the session's app
// and environment needs, from the session's last read (call Read or List first):
//   - stops each run past its timeout (its stop reason: "timed out after ...");
//   - starts the next attempt of each failed run (exited non-zero, OOM-killed, failed to
//     start, timed out) that has retries left;
//   - starts a run when one is due (the schedule's Next after the last run's start, or
//     after the job was recorded when it never ran, is not after now), unless Concurrency
//     runs are going: then it waits (JobWaiting), and starts once one ends;
//   - removes the containers of each job's finished runs beyond KeepRuns, oldest first,
//     and the standalone tasks that ended more than TaskRetention ago.
//
// Every container it creates carries opts.Epoch, and opts.Fence is asked before every
// write; once it fails, ReconcileJobs stops and returns an error wrapping
// executor.ErrLockLost. Other failures (a run that cannot be placed or started) are
// JobFailed actions: the other jobs go on. Call it under the deploy lock, on every tick and
// after a job run's container died.
func (s *Session) ReconcileJobs(ctx context.Context, now time.Time, opts JobOptions) ([]JobAction, error) {
	jobs := opts.Jobs
	if jobs == nil {
		var err error
		if jobs, _, err = ReadJobs(ctx, s); err != nil {
			return nil, err
		}
	}
	var acts []JobAction
	for _, job := range jobs {
		done, err := s.reconcileJob(ctx, now, job, opts)
		acts = append(acts, done...)
		if err != nil {
			return acts, err
		}
	}
	keep := defaulted(opts.TaskRetention, DefaultTaskRetention)
	if opts.dry {
		for _, t := range s.endedTasks(now, keep) {
			acts = append(acts, JobAction{Kind: JobRemoved, Host: t.Host, TaskID: t.TaskID, Container: t.ContainerID,
				Detail: "a standalone task that ended over " + keep.String() + " ago"})
		}
		return acts, nil
	}
	if _, err := s.CleanTasks(ctx, now, keep, opts.Fence); err != nil {
		return acts, err
	}
	return acts, nil
}

// PendingJobs says what ReconcileJobs would do at now, without doing it or writing
// anything: the actions it would take (JobStarted without a host, JobTimedOut, JobRemoved)
// and the runs that wait (JobWaiting). A caller that takes the deploy lock only to change
// something takes it when one of them Writes.
func (s *Session) PendingJobs(ctx context.Context, now time.Time, opts JobOptions) ([]JobAction, error) {
	opts.dry, opts.Fence = true, nil
	return s.ReconcileJobs(ctx, now, opts)
}

// reconcileJob does what one job needs; it fails only when the lock is lost.
func (s *Session) reconcileJob(ctx context.Context, now time.Time, job Job, opts JobOptions) ([]JobAction, error) {
	var acts []JobAction
	add := func(a JobAction) error {
		acts = append(acts, a)
		if errors.Is(a.Err, executor.ErrLockLost) {
			return a.Err
		}
		return nil
	}
	runs := runsOf(s.Snap, job.Name)
	where := make([]outcome, len(runs))
	running := 0
	var stopped map[string]jobStop // read only when a retry is due: runs stopped by hand
	for i, r := range runs {
		where[i] = attemptOutcome(r.last(), now)
		if where[i] == active && s.pastTimeout(job, r.last(), now) {
			a := s.stopTimedOut(ctx, job, r.last(), opts)
			if err := add(a); err != nil {
				return acts, err
			}
			if a.Err == nil {
				where[i] = failed // stopped: it may be tried again (one not stopped still runs)
			}
		}
		last := r.last()
		if where[i] == failed && last.HostReachable && last.Meta.Attempt <= job.Desired.Retries {
			if stopped == nil {
				stopped = recordedJobStops(ctx, s, job.Name)
			}
			if _, ok := stopped[r.id]; ok {
				where[i] = cancelled
				continue
			}
			a := s.startRun(ctx, job, r.id, last.Meta.Attempt+1, TriggerRetry, now, opts)
			if err := add(a); err != nil {
				return acts, err
			}
			where[i] = active // its next attempt runs (or will be tried again)
		}
		if where[i] == active {
			running++
		}
	}
	if next := s.nextRun(ctx, job, runs, now); !next.IsZero() && !next.After(now) {
		concurrency := max(job.Desired.Concurrency, 1)
		if running < concurrency {
			if err := add(s.startRun(ctx, job, newID(), 1, TriggerSchedule, now, opts)); err != nil {
				return acts, err
			}
		} else {
			acts = append(acts, JobAction{Kind: JobWaiting, Job: job.Name,
				Detail: fmt.Sprintf("due since %s; %d of %d runs still going", next.UTC().Format(time.RFC3339), running, concurrency)})
		}
	}
	removed, err := s.trimRuns(ctx, job, runs, where, defaulted(opts.KeepRuns, DefaultKeepRuns), opts)
	return append(acts, removed...), err
}

// nextRun is when job's next run is due: the schedule's next time after its newest run's
// start, or after since when it never ran. When the runs in sight make it due, the start
// recorded on the hosts is read as well (recordJobStart), so a run whose host does not
// answer still counts.
func (s *Session) nextRun(ctx context.Context, job Job, runs []jobRun, now time.Time) time.Time {
	base := lastStart(runs, job.Since)
	next := job.Schedule.Next(base)
	if next.IsZero() || next.After(now) {
		return next
	}
	if rec := recordedJobStart(ctx, s, job.Name); rec.After(base) {
		return job.Schedule.Next(rec)
	}
	return next
}

// lastStart is when the newest run started, or since when none did.
func lastStart(runs []jobRun, since time.Time) time.Time {
	if len(runs) == 0 {
		return since
	}
	return runs[len(runs)-1].start()
}

// pastTimeout reports whether a running attempt has run for the job's timeout.
func (s *Session) pastTimeout(job Job, t state.TaskState, now time.Time) bool {
	return job.Desired.Timeout > 0 && t.Running() && t.HostReachable && !t.Meta.Started.IsZero() &&
		now.Sub(t.Meta.Started) >= job.Desired.Timeout
}

// stopTimedOut stops a run that went past its timeout.
func (s *Session) stopTimedOut(ctx context.Context, job Job, t state.TaskState, opts JobOptions) JobAction {
	a := JobAction{Kind: JobTimedOut, Job: job.Name, Run: t.Meta.Run, Attempt: t.Meta.Attempt, Trigger: t.Meta.Trigger,
		Host: t.Host, TaskID: t.TaskID, Container: t.ContainerID, Detail: "timed out after " + job.Desired.Timeout.String()}
	if opts.dry {
		return a
	}
	if err := s.stopTask(ctx, t, opts.Fence); err != nil {
		a.Kind, a.Err = JobFailed, fmt.Errorf("stopping the run past its timeout: %w", err)
	}
	return a
}

// StartJob starts a run of job at once (deck job run), unless the job already has
// Concurrency runs going (ErrJobBusy) and force is not set. Work from a fresh read.
func (s *Session) StartJob(ctx context.Context, job Job, now time.Time, opts JobOptions, force bool) (JobAction, error) {
	running := 0
	for _, r := range runsOf(s.Snap, job.Name) {
		if attemptOutcome(r.last(), now) == active {
			running++
		}
	}
	if concurrency := max(job.Desired.Concurrency, 1); running >= concurrency && !force {
		return JobAction{}, fmt.Errorf("job %s: %w (%d of %d running); wait for one to end, or force it", job.Name, ErrJobBusy, running, concurrency)
	}
	a := s.startRun(ctx, job, newID(), 1, TriggerManual, now, opts)
	return a, a.Err
}

// startRun places and starts one attempt of a run. A container that was created but did
// not start is kept: the job's history shows that it failed to start.
func (s *Session) startRun(ctx context.Context, job Job, run string, attempt int, trigger string, now time.Time, opts JobOptions) JobAction {
	a := JobAction{Kind: JobStarted, Job: job.Name, Run: run, Attempt: attempt, Trigger: trigger,
		TaskID: run + "-" + strconv.Itoa(attempt)}
	if opts.dry {
		a.Detail = "due"
		return a
	}
	hosts, err := s.placeTasks(ctx, job.Revision, job.Desired.Placement, 1)
	if err != nil {
		a.Kind, a.Err, a.Detail = JobFailed, err, err.Error()
		return a
	}
	app, env, d := s.T.App.Name, s.T.Env.Name, job.Desired
	spec := executor.TaskSpec(executor.TaskInput{App: app, Env: env, Host: hosts[0], TaskID: a.TaskID, Rev: job.Revision,
		Epoch: opts.Epoch, Desired: &d, Kind: providers.KindJobRun, Run: run, Attempt: attempt, Trigger: trigger, Started: now})
	spec.Name = executor.ContainerName(app, env, job.Name, "run-"+a.TaskID)
	a.Host = hosts[0]
	t, err := s.startContainer(ctx, a.Host, spec, opts.Fence)
	a.Container = t.ContainerID
	var recErr error
	if attempt == 1 && a.Container != "" && fence(opts.Fence) == nil {
		// The run exists (if it failed to start, its retries are its own): it counts for
		// the schedule from now on, also where its container cannot be seen. A retry is
		// the same run.
		recErr = recordJobStart(ctx, s, job.Name, now)
	}
	if err != nil {
		a.Kind, a.Err, a.Detail = JobFailed, err, err.Error()
		return a
	}
	a.Detail = fmt.Sprintf("revision %d (%s), %s", job.Number, job.Revision.ID, trigger)
	if recErr != nil {
		a.Detail += "; " + recErr.Error()
	}
	return a
}

// trimRuns removes the containers of a job's finished runs beyond keep, oldest first.
func (s *Session) trimRuns(ctx context.Context, job Job, runs []jobRun, where []outcome, keep int, opts JobOptions) ([]JobAction, error) {
	var finished []int
	for i, r := range runs {
		if where[i] == succeeded || where[i] == cancelled || where[i] == failed && r.last().Meta.Attempt > job.Desired.Retries {
			finished = append(finished, i)
		}
	}
	var acts []JobAction
	for _, i := range finished[:max(len(finished)-keep, 0)] {
		for _, t := range runs[i].attempts {
			h := s.Fleet.Host(t.Host)
			if h == nil || !t.HostReachable || t.Running() {
				continue
			}
			a := JobAction{Kind: JobRemoved, Job: job.Name, Run: runs[i].id, Attempt: t.Meta.Attempt,
				Host: t.Host, TaskID: t.TaskID, Container: t.ContainerID, Detail: "older than the newest " + strconv.Itoa(keep) + " finished runs"}
			if !opts.dry {
				if err := fence(opts.Fence); err != nil {
					return acts, err
				}
				if err := h.Remove(ctx, t.ContainerID); err != nil && !errors.Is(err, providers.ErrNotFound) {
					continue // left for the next call
				}
			}
			acts = append(acts, a)
		}
	}
	return acts, nil
}

// fence asks fn (when set), as the executor does before each write.
func fence(fn func() error) error {
	if fn == nil {
		return nil
	}
	if err := fn(); err != nil {
		return fmt.Errorf("%w: %w", executor.ErrLockLost, err)
	}
	return nil
}

func defaulted[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
