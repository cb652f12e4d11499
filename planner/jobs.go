package planner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
)

// A Scheduled Job is a schedule, not a count. A deploy records its revision and desired
// state and puts its image (and secrets) on the hosts a run may be placed on; it never
// starts, stops or replaces a run because it finished or runs: the controller starts runs
// when they are due (pipeline.ReconcileJobs), and deck job run starts one at once.

// KindJob is a change to a Scheduled Job as deployed: applying it puts the revision's
// image and secrets on Job.Hosts; Destroy (deck delete) only records that it is gone.
const KindJob Kind = "job"

// JobRecord is what the hosts say of a Scheduled Job that deck deployed: its desired state
// as recorded, and the newest revision of it whose deploy completed (nil: none).
type JobRecord struct {
	Desired  providers.DesiredState
	Revision *Revision
}

// JobChange is what a job change sets up.
type JobChange struct {
	Schedule    string        `json:"schedule"`
	Retries     int           `json:"retries,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	Concurrency int           `json:"concurrency,omitempty"`
	// Hosts get the revision's image and secrets: the reachable hosts its placement
	// allows, so that a run can start on any of them without a build or a secret value.
	Hosts []string `json:"hosts,omitempty"`
	// NextRun is when the schedule fires next: after the last run's start or, with no run
	// yet, after Options.Now (zero when Now is not given).
	NextRun time.Time `json:"next_run,omitempty"`
	// Running counts its runs that run now: the change leaves them alone.
	Running int `json:"running,omitempty"`
}

// Job reasons.
const (
	// ReasonJobNew: the job has no desired state recorded on the hosts yet.
	ReasonJobNew ReasonCode = "job_new"
	// ReasonJobChanged: its run settings (Fields) differ from those recorded.
	ReasonJobChanged ReasonCode = "job_changed"
	// ReasonNotARun: a container of the job that is not a run (an older deck started
	// jobs as services' tasks): it is stopped, runs start on schedule.
	ReasonNotARun ReasonCode = "not_a_run"
)

// planJob plans a Scheduled Job: a change when the hosts do not have it as desired.
func (c *computer) planJob(d Desired) error {
	svc, rev := d.Service, d.Revision
	sp := ServicePlan{Name: svc.Name, Type: svc.Type, Revision: rev.ID, Deployment: effectiveDeployment(svc.Deployment)}
	var runs []state.TaskState
	for _, t := range c.tasksOf(svc.Name) {
		switch {
		case t.Meta.Kind == providers.KindJobRun:
			runs = append(runs, t)
			if t.Running() && t.HostReachable {
				sp.Running++
			}
		case t.Meta.Kind == "" && t.HostReachable:
			c.destroy(t, Reason{Code: ReasonNotARun})
			sp.Waves = 1
		}
	}
	reason, action, changed := c.jobReason(svc, rev)
	if changed {
		hosts, err := c.jobHosts(svc)
		if err != nil {
			return err
		}
		jc := &JobChange{Schedule: svc.Schedule, Retries: svc.Retries, Timeout: svc.Timeout, Concurrency: svc.Concurrency,
			Hosts: hosts, Running: sp.Running, NextRun: c.nextRun(svc.Schedule, runs)}
		c.plan.Revisions[rev.ID] = rev
		c.plan.Changes = append(c.plan.Changes, Change{Action: action, Kind: KindJob, Service: svc.Name,
			Revision: rev.ID, Job: jc, Reason: reason})
		sp.Waves = 1
	}
	c.plan.Services = append(c.plan.Services, sp)
	return nil
}

// jobReason compares the job with what the hosts recorded of it.
func (c *computer) jobReason(svc manifest.ServiceSpec, rev Revision) (Reason, Action, bool) {
	rec, ok := c.jobs[svc.Name]
	if !ok {
		return Reason{Code: ReasonJobNew}, Create, true
	}
	if rec.Revision == nil {
		return Reason{Code: ReasonJobNew, Detail: "no deploy of it has completed"}, Create, true
	}
	fields := changedSettings(rec.Desired, providers.DesiredStateOf(svc))
	if rec.Revision.ID != rev.ID {
		fields = append(newSpecDiff(rev.Task).changed(rec.Revision.Task), fields...)
		return Reason{Code: ReasonNewRevision, Revision: rev.ID, WasRevision: rec.Revision.ID, Fields: fields}, Replace, true
	}
	if len(fields) > 0 {
		return Reason{Code: ReasonJobChanged, Fields: fields}, Replace, true
	}
	return Reason{}, "", false
}

// changedSettings lists the desired-state fields (by their JSON names) that differ.
func changedSettings(was, now providers.DesiredState) []string {
	a, b := jsonFields(was), jsonFields(now)
	var out []string
	for k := range b {
		if !bytes.Equal(a[k], b[k]) {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func jsonFields(v any) map[string]json.RawMessage {
	raw, err := json.Marshal(v)
	if err != nil {
		panic("planner: desired state does not marshal: " + err.Error())
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		panic("planner: desired state does not unmarshal: " + err.Error())
	}
	return m
}

// jobHosts are the reachable hosts the job's placement constraints allow, in environment
// order. Free room is not required: it changes from run to run.
func (c *computer) jobHosts(svc manifest.ServiceSpec) ([]string, error) {
	p := &placer{c: c.cluster, spec: svc.Placement}
	var out, why []string
	for i, h := range c.cluster.hosts {
		if r := p.staticReason(i); r != "" {
			why = append(why, h.Name+": "+r)
			continue
		}
		out = append(out, h.Name)
	}
	if len(out) == 0 {
		if len(why) == 0 {
			why = []string{"the environment has no hosts"}
		}
		return nil, fmt.Errorf("job %s: no host can run it: %s", svc.Name, strings.Join(why, ", "))
	}
	return out, nil
}

// nextRun is when the schedule fires next, counted from the last run's start (the start
// of its first attempt), or from c.now when it has not run.
func (c *computer) nextRun(schedule string, runs []state.TaskState) time.Time {
	s, err := manifest.ParseSchedule(schedule)
	if err != nil {
		return time.Time{}
	}
	if last := LastRunStart(runs); !last.IsZero() {
		return s.Next(last)
	}
	if c.now.IsZero() {
		return time.Time{}
	}
	return s.Next(c.now)
}

// LastRunStart is when the newest of a job's runs started: the start of its first
// attempt, by deck's clock (the deck.started label). Zero when none carries it.
func LastRunStart(tasks []state.TaskState) time.Time {
	first := map[string]time.Time{}
	for _, t := range tasks {
		if t.Meta.Kind != providers.KindJobRun || t.Meta.Started.IsZero() {
			continue
		}
		if s, ok := first[t.Meta.Run]; !ok || t.Meta.Started.Before(s) {
			first[t.Meta.Run] = t.Meta.Started
		}
	}
	var last time.Time
	for _, s := range first {
		if s.After(last) {
			last = s
		}
	}
	return last
}

// unitWord is what the human plan calls a service: a job, or a service.
func unitWord(sp ServicePlan) string {
	if sp.Type == manifest.ScheduledJob {
		return "job"
	}
	return "service"
}

// jobText is what a job change does: the schedule and settings it puts in place.
func jobText(c Change) string {
	s := "job " + c.Service
	j := c.Job
	if c.Action == Destroy || j == nil {
		return s
	}
	s += ": schedule " + j.Schedule
	if !j.NextRun.IsZero() {
		s += " (next run " + j.NextRun.UTC().Format("2006-01-02 15:04:05 UTC") + ")"
	}
	if j.Retries > 0 {
		s += fmt.Sprintf(", retries %d", j.Retries)
	}
	if j.Timeout > 0 {
		s += ", timeout " + j.Timeout.String()
	}
	if j.Concurrency > 1 {
		s += fmt.Sprintf(", %d runs at once", j.Concurrency)
	}
	if j.Running > 0 {
		s += fmt.Sprintf("; %d running, left to finish", j.Running)
	}
	return s
}
