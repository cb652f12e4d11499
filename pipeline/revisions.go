package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/history"
)

// Revisions. Every deploy that starts tasks of a task definition the service's newest
// revision does not have records a numbered revision of the service on the hosts (the
// rendered task definition, with the image reference, and who deployed it from where), and
// its outcome once the run ends: completed, rolled back or failed. A rollback, automatic
// (the circuit breaker tripped) or asked for (deck rollback), deploys a kept revision's
// task definition as it was recorded: nothing is built again.

// DefaultKeepRevisions is how many revisions' images (and secrets) stay on the hosts.
const DefaultKeepRevisions = 5

// RollbackTarget asks a run to return a service to one of its kept revisions.
type RollbackTarget struct {
	Service string
	// To is the revision number; 0 means the completed revision before the current one.
	To int
}

// RolledBackError is returned when a service's rollout tripped its circuit breaker and
// deck rolled it back: the deploy failed, whatever the rollback did.
type RolledBackError struct {
	Service  string
	Failed   int // the revision that failed
	To       int // the revision returned to
	Breaker  *executor.BreakerError
	Rollback error // nil when the rollback completed
}

func (e *RolledBackError) Error() string {
	s := fmt.Sprintf("service %s: revision %d: %v", e.Service, e.Failed, e.Breaker)
	if e.Rollback != nil {
		return s + fmt.Sprintf("; rolling back to revision %d failed too: %v", e.To, e.Rollback)
	}
	return s + fmt.Sprintf("; rolled back to revision %d, which serves again", e.To)
}

func (e *RolledBackError) Unwrap() []error {
	return []error{e.Breaker, e.Rollback}
}

// store is the session's revision history.
func (s *Session) history() *history.Store {
	var hosts []providers.Host
	for _, n := range s.Fleet.Names() {
		hosts = append(hosts, s.Fleet.Host(n))
	}
	return history.New(hosts, s.T.App.Name, s.T.Env.Name)
}

// startRevisions records a revision for each service whose plan starts tasks of a task
// definition its newest revision does not have, and returns the revision number each
// planned service is deployed as (0 when it has none: a deleted service, or history that
// could not be written). On an error, it returns what it recorded before it.
func (d Deploy) startRevisions(ctx context.Context, s *Session, plan *planner.Plan, hist map[string][]history.Entry) (nums map[string]int, created map[string]bool, err error) {
	store := s.history()
	nums, created = map[string]int{}, map[string]bool{}
	var meta *history.Meta
	getMeta := func() history.Meta {
		if meta == nil {
			meta = &history.Meta{}
			if d.Meta != nil {
				*meta = d.Meta()
			}
		}
		return *meta
	}
	for _, sp := range plan.Services {
		if sp.Delete || sp.Revision == "" {
			continue
		}
		entries := hist[sp.Name]
		if n := len(entries); n > 0 && entries[n-1].ID == sp.Revision &&
			(entries[n-1].Outcome == history.InProgress || entries[n-1].Outcome == history.Completed) {
			// A rerun of a run that died, or a count change: the same revision. One that
			// failed or was rolled back is tried again as a new revision.
			nums[sp.Name] = entries[n-1].Number
			continue
		}
		rev, ok := plan.Revisions[sp.Revision]
		if !ok {
			// No task of it starts: its tasks run already. When the run that started them
			// ended failed with them running (it failed after they passed, before the old
			// tasks stopped), this run, which stops the old ones, completes the revision: it
			// is recorded again, from the failed run's record, or the controller would
			// return the service to the last completed one. (A run that lost its lock
			// leaves its revision in progress, and this run takes it over as it is.)
			if n := len(entries); n == 0 || entries[n-1].ID != sp.Revision || entries[n-1].Outcome != history.Failed {
				continue
			}
			rev = planner.Revision{ID: sp.Revision, Service: sp.Name, Task: entries[len(entries)-1].Task}
		}
		r := history.Revision{Service: sp.Name, ID: rev.ID, Task: rev.Task, Kind: history.KindDeploy, Meta: getMeta()}
		if d.Rollback != nil && d.Rollback.Service == sp.Name {
			r.Kind, r.RollbackOf = history.KindRollback, d.rollbackTo
		}
		rec, err := store.Create(ctx, r)
		if err != nil {
			// The revisions recorded so far are returned with the error: the caller ends
			// them failed, or they would read as a deploy that died midway, which the
			// controller completes.
			return nums, created, fmt.Errorf("recording revision of service %s: %w", sp.Name, err)
		}
		nums[sp.Name], created[sp.Name] = rec.Number, true
	}
	return nums, created, nil
}

// readHistory reads the kept revisions of every planned service.
func (s *Session) readHistory(ctx context.Context, plan *planner.Plan) (map[string][]history.Entry, error) {
	store := s.history()
	out := map[string][]history.Entry{}
	for _, sp := range plan.Services {
		if sp.Delete {
			continue
		}
		entries, err := store.List(ctx, sp.Name)
		if err != nil {
			return nil, fmt.Errorf("reading the revisions of service %s: %w", sp.Name, err)
		}
		out[sp.Name] = entries
	}
	return out, nil
}

// keepSecrets names the secrets of the revisions kept for rollback.
func keepSecrets(app, env string, hist map[string][]history.Entry, keep int) map[string]bool {
	out := map[string]bool{}
	for svc, entries := range hist {
		for i := max(len(entries)-keep, 0); i < len(entries); i++ {
			for _, sec := range entries[i].Task.Secrets {
				out[executor.SecretName(app, env, svc, sec.Name, sec.Digest)] = true
			}
		}
	}
	return out
}

// finish records each service's outcome and, for a service whose circuit breaker tripped,
// rolls it back to its last completed revision when its manifest asks for that.
func (d Deploy) finish(ctx context.Context, out *Outcome, opts executor.Options, nums map[string]int,
	created map[string]bool, hist map[string][]history.Entry, before map[string]desiredRecord, fence func() error, applyErr error) error {
	s := out.Session
	store := s.history()
	ctx = context.WithoutCancel(ctx) // an interrupted run still says how it ended
	if err := fence(); err != nil {
		// The lock was broken or taken over: another deploy may have taken this revision
		// over (a rerun reuses one in progress) and will end it. This one records nothing:
		// its revisions stay in progress until a deploy ends them.
		if applyErr != nil {
			return applyErr
		}
		return err
	}
	var errs []error
	for _, sr := range out.Result.Services {
		num := nums[sr.Name]
		if sr.Err == nil {
			if num > 0 {
				errs = append(errs, store.Finish(ctx, sr.Name, num, history.Completed, ""))
			}
			continue
		}
		var be *executor.BreakerError
		spec, known := d.spec(sr.Name)
		// Only a revision this run (or a run that died) started is rolled back: a failed
		// scale-out of the revision that already serves must not take the service to an
		// older one.
		fresh := created[sr.Name] || outcomeOf(hist[sr.Name], num) == history.InProgress
		if !errors.As(sr.Err, &be) || !known || !spec.Deployment.CircuitBreaker.Rollback || !fresh {
			if num > 0 {
				why := oneLine(sr.Err)
				if errors.Is(sr.Err, context.Canceled) {
					why = "interrupted before it completed (Ctrl-C or a signal): " + why
				}
				errs = append(errs, store.Finish(ctx, sr.Name, num, history.Failed, why))
			}
			continue
		}
		to, ok := history.LastCompleted(hist[sr.Name], num)
		if !ok {
			if num > 0 {
				errs = append(errs, store.Finish(ctx, sr.Name, num, history.Failed,
					be.Error()+"; no completed revision to roll back to"))
			}
			continue
		}
		rb := &RolledBackError{Service: sr.Name, Failed: num, To: to.Number, Breaker: be}
		if d.Events != nil {
			d.Events(executor.Event{Time: time.Now(), Kind: executor.EventBreaker, Service: sr.Name,
				Message: fmt.Sprintf("rolling back to revision %d", to.Number)})
		}
		// The rollback keeps the balancer's route as it was (keepRouteSettings), so the
		// desired state recorded for the controller must name that route too, or the
		// controller would put the failed revision's route (a health check path only it
		// answers) in front of the old tasks.
		if prev, ok := before[sr.Name]; ok && prev.State.HTTP != nil && spec.HTTP != nil {
			spec.HTTP = prev.State.HTTP
		}
		res, err := d.rollbackService(ctx, s, opts, spec, to)
		if err == nil {
			errs = append(errs, WriteDesired(ctx, s, []manifest.ServiceSpec{spec}, nil))
		}
		if res != nil {
			out.Rollbacks = append(out.Rollbacks, res.Services...)
		}
		rb.Rollback = err
		outcome, detail := history.RolledBack, fmt.Sprintf("%s; rolled back to revision %d", be.Error(), to.Number)
		if err != nil {
			outcome, detail = history.Failed, fmt.Sprintf("%s; rolling back to revision %d failed: %s", be.Error(), to.Number, oneLine(err))
		}
		if num > 0 {
			errs = append(errs, store.Finish(ctx, sr.Name, num, outcome, detail))
		}
		applyErr = replaceServiceErr(applyErr, sr.Err, rb)
	}
	if err := errors.Join(errs...); err != nil && applyErr == nil {
		return fmt.Errorf("the deploy completed, but its outcome could not be recorded: %w", err)
	}
	return applyErr
}

// rollbackService deploys a kept revision of one service, as recorded, with the lock the
// run holds: the hosts are read again and the service alone is planned and applied.
func (d Deploy) rollbackService(ctx context.Context, s *Session, opts executor.Options, spec manifest.ServiceSpec, to history.Entry) (*executor.Result, error) {
	if err := s.Read(ctx); err != nil {
		return nil, err
	}
	spec.Task = to.Task
	opts.Desired[spec.Name] = providers.DesiredStateOf(spec) // the tasks' labels say what the record says
	desired := []planner.Desired{{Service: spec, Revision: planner.NewRevision(spec.Name, to.Task)}}
	plan, err := s.Plan(ctx, desired, planner.Options{Partial: true})
	if err != nil {
		return nil, err
	}
	keepRouteSettings(plan)
	if plan.Empty() {
		// Nothing to undo (the failed wave's tasks are gone, the old ones served
		// throughout): still a rollback, which the summary, the report and the event log
		// all say.
		return &executor.Result{Services: []executor.ServiceResult{{Name: spec.Name}}}, nil
	}
	return executor.Apply(ctx, plan, opts)
}

func (d Deploy) spec(service string) (manifest.ServiceSpec, bool) {
	for _, s := range d.Target.Services {
		if s.Name == service {
			return s, true
		}
	}
	return manifest.ServiceSpec{}, false
}

// replaceServiceErr swaps one service's error in the joined apply error for rb.
func replaceServiceErr(joined, old error, rb *RolledBackError) error {
	u, ok := joined.(interface{ Unwrap() []error })
	if !ok {
		return rb
	}
	var out []error
	for _, e := range u.Unwrap() {
		if errors.Is(e, old) {
			out = append(out, rb)
		} else {
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}

func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// resolveRollback replaces the rolled-back service's desired revision with the kept one,
// and drops the other services from the run.
func (d *Deploy) resolveRollback(ctx context.Context, s *Session, res *Resolved) error {
	svc := d.Rollback.Service
	entries, err := s.history().List(ctx, svc)
	if err != nil {
		return fmt.Errorf("reading the revisions of service %s: %w", svc, err)
	}
	if len(entries) == 0 {
		return fmt.Errorf("service %s has no recorded revisions on the hosts: deck rollback returns to a revision deck deploy recorded", svc)
	}
	var to history.Entry
	if d.Rollback.To > 0 {
		found := false
		for _, e := range entries {
			if e.Number == d.Rollback.To {
				to, found = e, true
			}
		}
		if !found {
			return fmt.Errorf("service %s has no revision %d; kept revisions: %s (deck history %s lists them)",
				svc, d.Rollback.To, numbers(entries), svc)
		}
	} else {
		cur := current(entries, s.Snap.TasksByService(svc))
		if cur == 0 && isJob(res.Desired, svc) {
			cur = jobCurrent(entries)
		}
		var ok bool
		if to, ok = history.LastCompleted(entries, cur); !ok {
			return fmt.Errorf("service %s has no completed revision before revision %d to return to; kept revisions: %s",
				svc, cur, numbers(entries))
		}
	}
	d.rollbackTo = to.Number
	var desired []planner.Desired
	for _, dd := range res.Desired {
		if dd.Service.Name == svc {
			dd.Service.Task = to.Task
			dd.Revision = planner.NewRevision(svc, to.Task)
			desired = append(desired, dd)
		}
	}
	if len(desired) == 0 {
		return fmt.Errorf("service %s has no manifest in this environment: deck rollback takes its count, route and rollout settings from it", svc)
	}
	res.Desired = desired
	d.Target.Services = []manifest.ServiceSpec{desired[0].Service}
	return nil
}

// current is the number of the revision the service's running tasks run: the newest
// entry with their revision id. When none runs (a revision whose tasks all crashed, the
// very case a rollback is for), it is that of the tasks that are there, exited or not;
// when there are none, the newest revision recorded as completed or in progress: what was
// deployed last. 0 when nothing matches.
func current(entries []history.Entry, tasks []state.TaskState) int {
	running, there := map[string]bool{}, map[string]bool{}
	for _, t := range tasks {
		if t.Meta.Kind != "" {
			continue
		}
		there[t.Revision] = true
		if t.Running() {
			running[t.Revision] = true
		}
	}
	for _, revs := range []map[string]bool{running, there} {
		for i := len(entries) - 1; i >= 0; i-- {
			if revs[entries[i].ID] {
				return entries[i].Number
			}
		}
	}
	if len(there) == 0 {
		for i := len(entries) - 1; i >= 0; i-- {
			if o := entries[i].Outcome; o == history.Completed || o == history.InProgress {
				return entries[i].Number
			}
		}
	}
	return 0
}

func numbers(entries []history.Entry) string {
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%d (%s)", e.Number, e.Outcome))
	}
	return strings.Join(out, ", ")
}

// pruneImages removes, on every host, the service images of revisions older than the
// kept ones, and dangling build leftovers: one pass per host. Only a deploy that made a
// new revision can leave an image behind, so the others skip it. Best effort: a failure
// leaves images, never fails the deploy. hist is the history read before the deploy:
// with the plan's own revision, it holds every revision that can be kept.
func (d Deploy) pruneImages(ctx context.Context, s *Session, plan *planner.Plan, hist map[string][]history.Entry, keep int) {
	if len(plan.Revisions) == 0 {
		return
	}
	var hosts []providers.Host
	for _, n := range s.Fleet.Names() {
		hosts = append(hosts, s.Fleet.Host(n))
	}
	byRepo := map[string]map[string]bool{}
	for svc, entries := range hist {
		keepRefs := map[string]bool{}
		older := keep
		if id := planServiceRevision(plan, svc); id != "" && (len(entries) == 0 || entries[len(entries)-1].ID != id) {
			older = max(keep-1, 1) // this deploy's revision is the newest kept one
		}
		for _, ref := range history.KeepImages(entries, older) {
			keepRefs[ref] = true
		}
		for _, t := range s.Snap.TasksByService(svc) {
			if t.Spec != nil {
				keepRefs[t.Spec.Image] = true
			}
		}
		if rev, ok := plan.Revisions[planServiceRevision(plan, svc)]; ok {
			keepRefs[rev.Task.Image] = true
		}
		byRepo["localhost/deck/"+s.T.App.Name+"-"+svc+":"] = keepRefs
	}
	_, _ = history.PruneImages(ctx, hosts, byRepo)
}

func planServiceRevision(plan *planner.Plan, svc string) string {
	for _, sp := range plan.Services {
		if sp.Name == svc {
			return sp.Revision
		}
	}
	return ""
}

func outcomeOf(entries []history.Entry, number int) history.Outcome {
	for _, e := range entries {
		if e.Number == number {
			return e.Outcome
		}
	}
	return ""
}

// keepRouteSettings drops the route setting changes from a rollback's plan: the rollout
// that failed never applied the manifest's new settings, and returning to the old tasks
// must not apply them either (a health check path only the failed revision answers).
func keepRouteSettings(plan *planner.Plan) {
	kept := plan.Changes[:0]
	for _, c := range plan.Changes {
		if c.Kind == planner.KindRoute && c.Action == planner.Replace && c.Was != nil {
			r := plan.Routes[c.Service]
			r.Path, r.Hosts, r.Sticky, r.Health = c.Was.Path, c.Was.Hosts, c.Was.Sticky, c.Was.Health
			plan.Routes[c.Service] = r
			continue
		}
		kept = append(kept, c)
	}
	plan.Changes = kept
}

// JustDeployed reports, for a service whose tasks keep crashing, the revision a deploy
// completed within the last within (by now) and the completed revision before it: what the
// controller rolls back from and to (a rollout the circuit breaker did not catch, because
// its tasks passed their checks and crashed only after it ended). ok is false when the
// newest revision is not such a deploy (a rollback, one still in progress, an older one) or
// nothing completed before it.
func (s *Session) JustDeployed(ctx context.Context, service string, within time.Duration, now time.Time) (from, to int, ok bool) {
	entries, err := s.history().List(ctx, service)
	if err != nil || len(entries) == 0 {
		return 0, 0, false
	}
	newest := entries[len(entries)-1]
	if newest.Outcome != history.Completed || newest.Kind == history.KindRollback || newest.Finished.IsZero() ||
		now.Sub(newest.Finished) > within {
		return 0, 0, false
	}
	prev, found := history.LastCompleted(entries, newest.Number)
	if !found || prev.ID == newest.ID {
		return 0, 0, false
	}
	return newest.Number, prev.Number, true
}
