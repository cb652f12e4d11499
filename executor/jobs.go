package executor

import (
	"fmt"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
)

// A job change (planner.KindJob) starts nothing: prepare puts the job revision's image and
// secrets on every host the change names (see needs), so the controller, which has no
// build context and no secret value, can start a run on any of them.

// checkJob refuses a job change that lacks what applying it needs.
func checkJob(plan *planner.Plan, i int, c planner.Change) error {
	switch c.Action {
	case planner.Destroy:
		return nil
	case planner.Create, planner.Replace:
		if _, ok := plan.Revisions[c.Revision]; !ok || c.Job == nil || len(c.Job.Hosts) == 0 {
			return fmt.Errorf("change %d (job %s, %s) lacks its revision or the hosts to prepare", i+1, c.Service, c.Action)
		}
		return nil
	}
	return fmt.Errorf("change %d (job %s) has action %q, which this deck cannot apply; update deck", i+1, c.Service, c.Action)
}

// doneMessage sums up what a service's apply did, for its EventServiceDone.
func (a *applier) doneMessage(sp planner.ServicePlan, res ServiceResult) string {
	if sp.Type != manifest.ScheduledJob {
		return fmt.Sprintf("%d started, %d stopped", len(res.Created), res.Stopped)
	}
	for _, c := range a.plan.Changes {
		if c.Service == sp.Name && c.Kind == planner.KindJob && c.Job != nil {
			return fmt.Sprintf("schedule %s in place, its image on %d hosts", c.Job.Schedule, len(c.Job.Hosts))
		}
	}
	return fmt.Sprintf("%d stopped", res.Stopped)
}
