package pipeline

import (
	"context"
	"fmt"
	"sort"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers/history"
)

// The controller runs this pipeline with what should run read back from the hosts, not
// from manifests: each service's desired state (the newest record deck deploy wrote) and
// its task definition (the revision it runs, from the revision history). Nothing is
// built and no secret value is needed: images and secrets are on the hosts already.

// FromHosts rebuilds the desired services of the session's app and environment from the
// hosts: Scheduled Jobs are left out (they are not counts; see ReconcileJobs). A service
// with no revision to run (none recorded, or none that completed or is under way) is left
// out too, with a sentence in skipped saying so.
// cache, when not nil, holds task definitions read earlier by service and revision
// number; FromHosts reads the history only for services it does not hold.
func FromHosts(ctx context.Context, s *Session, cache *RevisionCache) (res *Resolved, skipped []Skipped, err error) {
	desired, err := ReadDesired(ctx, s)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the desired state from the hosts: %w", err)
	}
	names := make([]string, 0, len(desired))
	for name := range desired {
		names = append(names, name)
	}
	sort.Strings(names)
	res = &Resolved{}
	for _, name := range names {
		d := desired[name]
		if d.Type == manifest.ScheduledJob {
			continue
		}
		td, ok, err := cache.taskDef(ctx, s, name)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			skipped = append(skipped, Skipped{Service: name, Why: "(service " + name + ") has no revision to run: none of its deploys completed; " +
				"its tasks are started once one does"})
			continue
		}
		spec := manifest.ServiceSpec{App: s.T.App.Name, Env: s.T.Env.Name, Name: name, Type: d.Type, Task: td,
			Count: d.Count, Deployment: d.Deployment, Placement: d.Placement, Schedule: d.Schedule, HTTP: d.HTTP}
		res.Desired = append(res.Desired, planner.Desired{Service: spec, Revision: planner.NewRevision(name, td)})
	}
	return res, skipped, nil
}

// Skipped is a service FromHosts left out, and why, in a sentence.
type Skipped struct {
	Service, Why string
}

// RevisionCache keeps each service's current task definition between runs: the revision
// history changes only when a deploy records a revision, and a deploy's tasks carry the
// new revision id, which the cache does not know (Invalidate, or Fresh, catches that).
type RevisionCache struct {
	defs map[string]manifest.TaskDef
	ids  map[string]string // service -> revision id of defs[service]
}

// NewRevisionCache makes an empty cache.
func NewRevisionCache() *RevisionCache {
	return &RevisionCache{defs: map[string]manifest.TaskDef{}, ids: map[string]string{}}
}

// Invalidate forgets everything: the next FromHosts reads the history again.
func (c *RevisionCache) Invalidate() {
	if c != nil {
		clear(c.defs)
		clear(c.ids)
	}
}

// Fresh reports whether every running task of a cached service runs the revision the
// cache holds for it. One that runs another means a deploy recorded a revision since
// (or is rolling one out): the history must be read again.
func (c *RevisionCache) Fresh(s *Session) bool {
	if c == nil {
		return false
	}
	for t := range s.Snap.EachTask() {
		if id, ok := c.ids[t.Service]; ok && t.Meta.Kind == "" && t.Running() && t.Revision != id {
			return false
		}
	}
	return true
}

func (c *RevisionCache) taskDef(ctx context.Context, s *Session, service string) (manifest.TaskDef, bool, error) {
	if c != nil {
		if td, ok := c.defs[service]; ok {
			return td, true, nil
		}
	}
	entries, err := s.history().List(ctx, service)
	if err != nil {
		return manifest.TaskDef{}, false, fmt.Errorf("reading the revisions of service %s: %w", service, err)
	}
	td, ok := CurrentTaskDef(entries, s.Snap.TasksByService(service))
	if ok && c != nil {
		c.defs[service], c.ids[service] = td, planner.NewRevision(service, td).ID
	}
	return td, ok, nil
}

// CurrentTaskDef is the task definition a service should run: that of its newest revision
// that completed or is still in progress (a deploy that died midway: what it was asked to
// roll out), skipping revisions that failed or were rolled back. With no history (tasks
// deployed before deck kept one), the newest running task's own recorded definition.
func CurrentTaskDef(entries []history.Entry, tasks []state.TaskState) (manifest.TaskDef, bool) {
	for i := len(entries) - 1; i >= 0; i-- {
		if o := entries[i].Outcome; o == history.Completed || o == history.InProgress {
			return entries[i].Task, true
		}
	}
	var newest *state.TaskState
	for i, t := range tasks {
		if t.Running() && t.Spec != nil && (newest == nil || t.StartedAt.After(newest.StartedAt)) {
			newest = &tasks[i]
		}
	}
	if newest == nil {
		return manifest.TaskDef{}, false
	}
	return *newest.Spec, true
}
