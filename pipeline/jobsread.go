package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/history"
)

// Job is a Scheduled Job as the hosts say it should run: its desired state as deck deploy
// recorded it, and the task definition of its newest completed revision. The controller
// rebuilds it from the hosts alone (ReadJobs), without the manifests.
type Job struct {
	Name     string
	Desired  providers.DesiredState
	Schedule manifest.Schedule
	// Since is when its desired state was last recorded (by the clock of the host that
	// keeps the record): a job that has not run yet counts its first run from there.
	Since time.Time
	// Revision is what its runs are made from; Number is its number in the history.
	Revision planner.Revision
	Number   int
}

// ReadJobs reads the Scheduled Jobs of the session's app and environment from the hosts,
// sorted by name. A job is left out, with a note in skipped, while no deploy of it has
// completed (its image may not be on the hosts yet) or its schedule does not parse.
func ReadJobs(ctx context.Context, s *Session) (jobs []Job, skipped []string, err error) {
	recs, err := readDesired(ctx, s)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the jobs' desired state from the hosts: %w", err)
	}
	store := s.history()
	for name, r := range recs {
		if r.State.Type != manifest.ScheduledJob {
			continue
		}
		sched, err := manifest.ParseSchedule(r.State.Schedule)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("job %s: schedule %s", name, err))
			continue
		}
		entries, err := store.List(ctx, name)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the revisions of job %s: %w", name, err)
		}
		e, ok := history.LastCompleted(entries, 0)
		if !ok {
			skipped = append(skipped, "job "+name+": no deploy of it has completed yet")
			continue
		}
		jobs = append(jobs, Job{Name: name, Desired: r.State, Schedule: sched, Since: r.Recorded,
			Revision: planner.NewRevision(name, e.Task), Number: e.Number})
	}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].Name < jobs[j].Name })
	sort.Strings(skipped)
	return jobs, skipped, nil
}

// FindJob reads the named job from the hosts (see ReadJobs).
func FindJob(ctx context.Context, s *Session, name string) (Job, error) {
	jobs, skipped, err := ReadJobs(ctx, s)
	if err != nil {
		return Job{}, err
	}
	for _, j := range jobs {
		if j.Name == name {
			return j, nil
		}
	}
	for _, why := range skipped {
		if strings.HasPrefix(why, "job "+name+":") {
			return Job{}, fmt.Errorf("%s", why)
		}
	}
	return Job{}, fmt.Errorf("app %s has no Scheduled Job %s in environment %s (deck deploy records one)", s.T.App.Name, name, s.T.Env.Name)
}

// jobRecords reads what the hosts recorded of the Scheduled Jobs among desired, and of
// the deleted services that are jobs, for the planner (planner.Options.Jobs). It reads
// nothing when there are none.
func (s *Session) jobRecords(ctx context.Context, desired []planner.Desired, deleted []string) (map[string]planner.JobRecord, error) {
	var names []string
	for _, d := range desired {
		if d.Service.Type == manifest.ScheduledJob {
			names = append(names, d.Service.Name)
		}
	}
	if len(names) == 0 && len(deleted) == 0 {
		return nil, nil
	}
	recs, err := readDesired(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("reading the jobs' desired state from the hosts: %w", err)
	}
	out := map[string]planner.JobRecord{}
	for _, name := range deleted {
		if r, ok := recs[name]; ok && r.State.Type == manifest.ScheduledJob {
			out[name] = planner.JobRecord{Desired: r.State}
		}
	}
	store := s.history()
	for _, name := range names {
		r, ok := recs[name]
		if !ok {
			continue
		}
		jr := planner.JobRecord{Desired: r.State}
		entries, err := store.List(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("reading the revisions of job %s: %w", name, err)
		}
		if e, ok := history.LastCompleted(entries, 0); ok {
			rev := planner.NewRevision(name, e.Task)
			jr.Revision = &rev
		}
		out[name] = jr
	}
	return out, nil
}

// isJob reports whether the named service of desired is a Scheduled Job.
func isJob(desired []planner.Desired, name string) bool {
	for _, d := range desired {
		if d.Service.Name == name {
			return d.Service.Type == manifest.ScheduledJob
		}
	}
	return false
}

// jobCurrent is the number of the revision a job's runs are made from: its newest
// completed one (0: none). No task says it, as a service's running tasks do.
func jobCurrent(entries []history.Entry) int {
	if e, ok := history.LastCompleted(entries, 0); ok {
		return e.Number
	}
	return 0
}
