package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
)

// Stopping a job's run (deck job stop, ECS's StopTask). Its attempt then exits as any
// stopped container does (143, or 137 past its stop timeout), which alone reads as a
// failure to try again. So the stop is recorded on every reachable host first, under the
// deploy lock the controller starts retries under, and the retry rule reads it: a run
// stopped by hand is over, whatever retries the job has.

const (
	jobStopPrefix   = "deck-jobstop."
	labelJobStopped = "deck.job-stopped"
	// keptStops is how many stopped runs a job's record remembers, newest first: more than
	// the finished runs kept (DefaultKeepRuns), so a stopped run's history says so.
	keptStops = 25
)

// JobStopped is a JobActionKind: a run stopped by hand (deck job stop), or one waiting
// for its retry that will not be tried again.
const JobStopped JobActionKind = "stopped"

// jobStop is one run stopped by hand: by whom (user@machine) and when (deck's clock).
type jobStop struct {
	Run string    `json:"run"`
	By  string    `json:"by"`
	At  time.Time `json:"at"`
}

// reason is a stopped run's reason in deck job history and the stop's action.
func (st jobStop) reason() string {
	return fmt.Sprintf("stopped by %s with deck job stop at %s", st.By, st.At.UTC().Format(time.RFC3339))
}

// recordedJobStops reads the runs of job stopped by hand, from every reachable host.
func recordedJobStops(ctx context.Context, s *Session, job string) map[string]jobStop {
	out := map[string]jobStop{}
	eachJobRecord(ctx, s, job, jobStopPrefix, labelJobStopped, func(v string) {
		var stops []jobStop
		if json.Unmarshal([]byte(v), &stops) == nil {
			for _, st := range stops {
				out[st.Run] = st
			}
		}
	})
	return out
}

// recordJobStops adds stops to job's record on every reachable host, keeping the newest
// keptStops. It fails only when no host took it.
func recordJobStops(ctx context.Context, s *Session, job string, stops []jobStop) error {
	all := recordedJobStops(ctx, s, job)
	for _, st := range stops {
		all[st.Run] = st
	}
	list := make([]jobStop, 0, len(all))
	for _, st := range all {
		list = append(list, st)
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].At.Equal(list[j].At) {
			return list[i].At.After(list[j].At)
		}
		return list[i].Run < list[j].Run
	})
	value, err := json.Marshal(list[:min(len(list), keptStops)])
	if err != nil {
		return err
	}
	return writeJobRecord(ctx, s, job, jobStopPrefix, labelJobStopped, string(value), "the stop of job "+job+"'s runs")
}

// StopJob stops job's runs that are going (only run, when it is not ""): each running
// attempt is sent SIGTERM, and SIGKILL after its stop timeout, and a run waiting for its
// retry is not tried again. The stops are recorded first, so the controller retries none
// of them. by names who stops them (user@machine). Work from a fresh read, under the
// deploy lock (opts.Fence).
func (s *Session) StopJob(ctx context.Context, job Job, run, by string, now time.Time, opts JobOptions) ([]JobAction, error) {
	stopped := recordedJobStops(ctx, s, job.Name)
	var targets []jobRun
	found, how := false, "" // the run named, and how it ended
	for _, r := range runsOf(s.Snap, job.Name) {
		if run != "" && r.id != run {
			continue
		}
		found = true
		switch _, already := stopped[r.id]; {
		case already:
			how = "stopped already"
		case attemptOutcome(r.last(), now) == active:
			targets = append(targets, r)
		case attemptOutcome(r.last(), now) == succeeded:
			how = "succeeded"
		case r.last().Meta.Attempt <= job.Desired.Retries:
			targets = append(targets, r) // failed, and waits for its retry
		default:
			how = "failed"
		}
	}
	switch {
	case len(targets) > 0:
	case run != "" && !found:
		return nil, fmt.Errorf("job %s has no run %s on the reachable hosts (deck job history lists the runs kept)", job.Name, run)
	case run != "":
		return nil, fmt.Errorf("run %s of job %s has ended: %s", run, job.Name, how)
	default:
		return nil, fmt.Errorf("job %s has no run going on the reachable hosts", job.Name)
	}
	if err := fence(opts.Fence); err != nil {
		return nil, err
	}
	stops := make([]jobStop, len(targets))
	for i, r := range targets {
		stops[i] = jobStop{Run: r.id, By: by, At: now}
	}
	if err := recordJobStops(ctx, s, job.Name, stops); err != nil {
		return nil, err
	}
	var acts []JobAction
	var errs []error
	for i, r := range targets {
		t := r.last()
		a := JobAction{Kind: JobStopped, Job: job.Name, Run: r.id, Attempt: t.Meta.Attempt, Trigger: t.Meta.Trigger,
			Host: t.Host, TaskID: t.TaskID, Container: t.ContainerID, Detail: stops[i].reason()}
		if stoppable(t) {
			if err := s.stopTask(ctx, t, opts.Fence); err != nil {
				a.Err = fmt.Errorf("stopping run %s (task %s on %s): %w", r.id, t.TaskID, t.Host, err)
				errs = append(errs, a.Err)
			}
		} else {
			a.Detail = "its retry is cancelled; " + a.Detail
		}
		acts = append(acts, a)
	}
	return acts, errors.Join(errs...)
}

// stoppable says whether a task has something to stop: it runs, is paused, or was created
// and may yet start.
func stoppable(t state.TaskState) bool {
	return t.Running() || t.State == "created" || t.State == "paused"
}

// stopTask stops a task's container: SIGTERM, then SIGKILL after the task's stop timeout.
func (s *Session) stopTask(ctx context.Context, t state.TaskState, fenceFn func() error) error {
	if err := fence(fenceFn); err != nil {
		return err
	}
	h := s.Fleet.Host(t.Host)
	if h == nil || !t.HostReachable {
		return fmt.Errorf("host %s does not answer", t.Host)
	}
	stop := 10 * time.Second
	if t.Spec != nil && t.Spec.StopTimeout > 0 {
		stop = t.Spec.StopTimeout
	}
	if err := h.Stop(ctx, t.ContainerID, stop); err != nil && !errors.Is(err, providers.ErrNotFound) {
		return err
	}
	return nil
}

// StopTasks stops the standalone tasks (deck task run) whose ids start with the given
// ids: SIGTERM, then SIGKILL after each one's stop timeout. An id that matches no task,
// or more than one, is an error and nothing is stopped. A task that has ended already is
// left as it is. Their containers are removed an hour after they end, as any ended
// standalone task's (CleanTasks). Work from a fresh read (List).
func (s *Session) StopTasks(ctx context.Context, ids []string) ([]RunningTask, error) {
	var found []state.TaskState
	for _, id := range ids {
		var match []state.TaskState
		for t := range s.Snap.EachTask() {
			if t.Meta.Kind == providers.KindStandalone && strings.HasPrefix(t.TaskID, id) {
				match = append(match, t)
			}
		}
		switch {
		case len(match) == 0:
			return nil, fmt.Errorf("no standalone task %s on the reachable hosts (deck task run's tasks; a job's runs are stopped with deck job stop)", id)
		case len(match) > 1:
			names := make([]string, len(match))
			for i, t := range match {
				names[i] = t.TaskID
			}
			slices.Sort(names)
			return nil, fmt.Errorf("%s matches %d tasks (%s): give more of the id", id, len(match), strings.Join(names, ", "))
		}
		if !slices.ContainsFunc(found, func(t state.TaskState) bool { return t.ID == match[0].ID }) {
			found = append(found, match[0])
		}
	}
	var out []RunningTask
	var errs []error
	for _, t := range found {
		if !stoppable(t) {
			continue // ended already
		}
		if err := s.stopTask(ctx, t, nil); err != nil {
			errs = append(errs, fmt.Errorf("stopping task %s on %s: %w", t.TaskID, t.Host, err))
			continue
		}
		out = append(out, RunningTask{Host: t.Host, TaskID: t.TaskID, ContainerID: t.ContainerID, Name: t.Name})
	}
	return out, errors.Join(errs...)
}
