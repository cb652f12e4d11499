package controller

import (
	"context"
	"errors"
	"time"

	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers/lock"
)

// jobTick is how often Scheduled Jobs are looked at: cron schedules have minute
// precision and @every second precision, so a run starts within a second of its time.
const jobTick = time.Second

// jobRefresh is how often the jobs (their schedules and revisions) are read again from
// the hosts: a deploy that adds or changes a job is seen within it.
const jobRefresh = 10 * time.Second

// jobs starts the Scheduled Jobs' runs that are due, retries failed ones and stops those
// past their timeout (pipeline.ReconcileJobs), and removes the standalone tasks that ended
// long ago. It lists the hosts (cheap), works out what is due without writing, and takes
// the deploy lock only when something must change. With no jobs it looks only as often as
// it reads them again, for the standalone tasks.
func (c *Controller) jobs(ctx context.Context, s *pipeline.Session, term Term) error {
	now := c.cfg.Now()
	refreshed := false
	if c.jobsRead.IsZero() || now.Sub(c.jobsRead) >= jobRefresh {
		if err := c.readJobs(ctx, s, now); err != nil {
			return err
		}
		refreshed = true
	}
	if len(c.jobList) == 0 && !refreshed {
		return nil
	}
	if err := s.List(ctx); err != nil {
		return err
	}
	acts, err := s.PendingJobs(ctx, now, pipeline.JobOptions{Jobs: c.jobList})
	if err != nil || !writes(acts) {
		return err
	}
	lease, err := c.locker(term)(ctx, s)
	if err != nil {
		return err
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
	// What was due was worked out from jobs read up to jobRefresh ago: under the lock they
	// are read again, so a job deck delete removed meanwhile is not started once more.
	if err := c.readJobs(ctx, s, now); err != nil {
		return err
	}
	if err := s.List(ctx); err != nil {
		return err
	}
	acts, err = s.ReconcileJobs(ctx, now, pipeline.JobOptions{Epoch: lease.Epoch(), Fence: lease.Check, Jobs: c.jobList})
	for _, a := range acts {
		if a.Writes() {
			c.log.Info(a.String(), "job", a.Job, "run", a.Run, "attempt", a.Attempt, "host", a.Host, "trigger", a.Trigger)
		}
		if (a.Kind == pipeline.JobRemoved || a.Kind == pipeline.JobTimedOut) && a.Container != "" {
			c.ownDoing(a.Host + "/" + a.Container)
		}
	}
	return err
}

// readJobs reads the Scheduled Jobs from the hosts; the list is never nil once read, since
// a nil JobOptions.Jobs means "read them" to the pipeline.
func (c *Controller) readJobs(ctx context.Context, s *pipeline.Session, now time.Time) error {
	jobs, _, err := pipeline.ReadJobs(ctx, s)
	if err != nil {
		return err
	}
	if jobs == nil {
		jobs = []pipeline.Job{}
	}
	c.jobList, c.jobsRead = jobs, now
	return nil
}

func writes(acts []pipeline.JobAction) bool {
	for _, a := range acts {
		if a.Writes() {
			return true
		}
	}
	return false
}

// jobCycle runs jobs and logs what went wrong; a held lock is not an error (a deploy
// runs: the next tick looks again).
func (c *Controller) jobCycle(ctx context.Context, s *pipeline.Session, term Term) {
	c.beforeCycle(s)
	err := c.jobs(ctx, s, term)
	var held *lock.HeldError
	if err != nil && !errors.As(err, &held) && ctx.Err() == nil {
		c.log.Error("scheduled jobs", "err", err)
	}
}
