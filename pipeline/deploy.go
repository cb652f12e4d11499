package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/executor/failpoint"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/history"
)

// Lease is a held deploy lock (lock.Lease satisfies it; the controller's etcd lease will
// too): its epoch fences every write, and Check fails once it is no longer held. A lease
// that also has Previous() *lock.Previous (lock.Lease does) has the lock-taken event say
// when the previous holder's lease had expired or been broken.
type Lease interface {
	Epoch() uint64
	Check() error
	Release(ctx context.Context) error
}

// ErrCancelled is returned when Confirm declined: nothing was changed.
var ErrCancelled = errors.New("cancelled; nothing was changed")

// Deploy is one run of the pipeline: the steps `deck deploy`, `deck delete` and the
// controller share, in order. Every field but Target is optional.
type Deploy struct {
	Target    Target
	LookupEnv func(string) (string, bool)
	// DeckFiles are deck's own files, left out of build context digests.
	DeckFiles []string
	Delete    []string // services to remove entirely (deck delete)
	Partial   bool     // the services given are not all of the app's
	// Saved, when set, is applied instead of a new plan (deck deploy --plan), if it still
	// applies; SavedPath names it in errors.
	Saved     *planner.Plan
	SavedPath string
	// PlanOnly stops after Planned: deck plan.
	PlanOnly bool
	// Lock takes the deploy lock once the hosts are connected; nil runs unlocked.
	Lock func(ctx context.Context, s *Session) (Lease, error)
	// Planned is shown the plan before anything changes; an error (ErrCancelled) stops
	// the run. An empty plan stops the run after Planned, with no error.
	Planned func(*planner.Plan) error
	// Builder returns the host that builds images (nil: the first host).
	Builder BuilderFunc
	Events  func(executor.Event)
	// Output receives image build logs (nil: discarded).
	BuildOutput io.Writer
	// Meta says who deploys from where, recorded with each revision; it is asked only
	// when a revision is recorded (it runs git), so a deploy with nothing to do pays nothing.
	Meta func() history.Meta
	// Rollback, when set, deploys a kept revision of one service instead of its manifest's
	// task definition (deck rollback); Target.Services still gives its count, route and
	// rollout settings.
	Rollback *RollbackTarget
	// KeepRevisions is how many revisions' images and secrets stay on the hosts
	// (default DefaultKeepRevisions).
	KeepRevisions int
	// HTTPClient makes the new tasks' health and target checks (nil: the executor's own).
	HTTPClient *http.Client

	// Session, when set, is an open session to read again and work through instead of
	// connecting anew (the controller keeps one); the caller closes it.
	Session *Session
	// Desired, when set, replaces Resolve: it says what should run from what the session
	// read (FromHosts). It is asked again when the hosts changed while deck waited for the
	// lock, since a deploy that ran meanwhile may have changed it.
	Desired func(ctx context.Context, s *Session) (*Resolved, error)
	// Heal runs the pipeline as the controller does: what should run was read back from
	// the hosts, so it is not recorded again, no revision is recorded or ended, nothing is
	// rolled back or pruned; a task that fails is tried again by a later run.
	Heal bool

	// Log, when set, gathers the run's events for the environment's event log (deck
	// events): the executor's task events, the lock taken, and how a deploy started and
	// ended. Run only gathers them; the caller flushes the log (EventLog.Flush) once the
	// run is over, so no write lands on the rollout's path.
	Log *EventLog

	rollbackTo int // the revision number Rollback resolved to
}

// BuilderFunc opens the host images are built on; nil host means the first host.
type BuilderFunc func(ctx context.Context) (providers.Host, error)

// Outcome is what a run saw and did. Session stays open for the caller's summary.
type Outcome struct {
	Session *Session
	Plan    *planner.Plan
	Result  *executor.Result
	// Rollbacks are what automatic rollbacks did, per service rolled back.
	Rollbacks []executor.ServiceResult
	// Revisions are the revision numbers the planned services were deployed as.
	Revisions map[string]int
	// Forgotten are the services deck delete found with no tasks but a desired state,
	// which it recorded as deleted.
	Forgotten []string
}

// Run carries the deploy out: resolve images and secrets, connect, read the hosts, plan
// (or check the saved plan) and show it; then, when there is something to do, take the
// lock, check that nothing changed while deck waited for it (planning again when it did),
// record the desired state and apply. A deploy with nothing to do takes no lock and writes
// nothing. The returned Outcome's Session must be closed by the caller (also on error).
func (d Deploy) Run(ctx context.Context) (*Outcome, error) {
	if d.Log != nil {
		events := d.Events
		d.Events = func(e executor.Event) {
			d.Log.Executor(e)
			if events != nil {
				events(e)
			}
		}
	}
	out, err := d.run(ctx)
	d.logOutcome(out, err)
	return out, err
}

func (d Deploy) run(ctx context.Context) (*Outcome, error) {
	s, res, err := d.open(ctx)
	out := &Outcome{Session: s}
	if err != nil {
		return out, err
	}
	if d.Rollback != nil {
		if err := d.resolveRollback(ctx, s, res); err != nil {
			return out, err
		}
		d.Partial = true
	}
	if out.Plan, err = d.planAndShow(ctx, s, res); err != nil {
		return out, err
	}
	if out.Plan.Empty() {
		return out, d.recordSettings(ctx, s, out)
	}
	if d.PlanOnly {
		return out, nil
	}
	// What the hosts held before this run records its own desired state, for a rollback
	// to return to its route (finish). Read with the tasks (Target.ReadDesired), before
	// recheck lists the hosts again: no call of its own.
	var before map[string]desiredRecord
	if !d.Heal && len(d.Target.Services) > 0 {
		before, _ = readDesired(ctx, s)
	}
	var lease Lease
	if d.Lock != nil {
		if lease, err = d.Lock(ctx, s); err != nil {
			return out, err
		}
		s.SetEpoch(lease.Epoch())
		d.logLock(lease)
		defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
		failpoint.Hit(failpoint.AfterLock)
	}
	if err := d.recheck(ctx, out, res, lease); err != nil || out.Plan.Empty() {
		return out, err
	}
	return out, d.apply(ctx, out, res, lease, before)
}

// open reads the hosts (through d.Session when given) and resolves what should run.
func (d *Deploy) open(ctx context.Context) (*Session, *Resolved, error) {
	t := d.Target
	if d.Desired != nil {
		s := d.Session
		var err error
		if s == nil {
			s, err = OpenRead(ctx, t)
		} else {
			err = s.Refresh(ctx)
		}
		if err != nil {
			return s, nil, err
		}
		res, err := d.desired(ctx, s)
		return s, res, err
	}
	// Resolving (digesting build contexts and secrets) is local work: do it while the
	// hosts are dialled and read.
	var res *Resolved
	resolved := make(chan error, 1)
	go func() {
		var err error
		if d.Rollback != nil {
			// The task definition comes from the revision history (resolveRollback): its
			// image and secrets are on the hosts, so nothing is built and no secret's source
			// is read; an emergency rollback needs no CI secret.
			res = &Resolved{Builds: map[string]manifest.BuildSpec{}, Secrets: map[string][]byte{}}
			for _, svc := range t.Services {
				if svc.Name == d.Rollback.Service {
					res.Desired = append(res.Desired, planner.Desired{Service: svc, Revision: planner.NewRevision(svc.Name, svc.Task)})
					rollbackSecrets(t.App.Name, t.Env.Name, svc, d.LookupEnv, res.Secrets)
				}
			}
		} else {
			res, err = Resolve(t.App.Name, t.Env.Name, t.Services, d.DeckFiles, d.LookupEnv)
		}
		resolved <- err
	}()
	// The desired-state records are read with the tasks: keepScaledCounts and
	// recordSettings need them, and a no-op deploy would otherwise read every host twice.
	t.ReadDesired = len(t.Services) > 0
	s, err := OpenRead(ctx, t)
	if rerr := <-resolved; rerr != nil {
		return s, nil, rerr
	}
	if err == nil {
		err = d.keepScaledCounts(ctx, s, res)
	}
	return s, res, err
}

// rollbackSecrets reads the values of svc's secrets whose sources can be read here, best
// effort: a kept revision whose value is no longer on a host (the hosts keep the values
// of the last revisions only) is rolled back to with the source's value when its digest
// is the revision's, that is when the value has not changed. A source that cannot be read
// is no error: an emergency rollback needs no CI secret.
func rollbackSecrets(app, env string, svc manifest.ServiceSpec, lookupEnv func(string) (string, bool), into map[string][]byte) {
	for _, sec := range svc.Secrets {
		val, err := manifest.ReadSecret(sec, lookupEnv)
		if err != nil {
			continue
		}
		digest := executor.SecretDigest(app, env, svc.Name, sec.Name, val)
		into[executor.SecretName(app, env, svc.Name, sec.Name, digest)] = val
	}
}

// desired asks d.Desired what should run, and makes it the run's services.
func (d *Deploy) desired(ctx context.Context, s *Session) (*Resolved, error) {
	res, err := d.Desired(ctx, s)
	if err != nil {
		return nil, err
	}
	d.Target.Services = d.Target.Services[:0:0]
	for _, dd := range res.Desired {
		d.Target.Services = append(d.Target.Services, dd.Service)
	}
	return res, nil
}

// recheck lists the hosts again, now that the lock is held (or, unlocked, just before
// applying): another deploy, or a long look at the prompt, may have changed them since
// the plan. A saved plan is then refused; a fresh one is made again and shown again.
func (d *Deploy) recheck(ctx context.Context, out *Outcome, res *Resolved, lease Lease) error {
	s := out.Session
	if err := s.List(ctx); err != nil {
		return err
	}
	if lease != nil {
		if err := s.refuseNewerEpochs(lease.Epoch()); err != nil {
			return err
		}
	}
	if s.Snap.Fingerprint() == out.Plan.Fingerprint && !d.countsRescaled(ctx, s, res, lease) {
		return nil
	}
	if d.Saved != nil || lease == nil {
		return fmt.Errorf("%w: the plan was made from snapshot %s, the hosts now give %s (%s). Nothing was changed; run deck deploy again",
			executor.ErrStalePlan, out.Plan.Fingerprint, s.Snap.Fingerprint(), s.Describe())
	}
	if d.Events != nil {
		d.Events(executor.Event{Time: time.Now(), Kind: executor.EventReplan, Message: "the hosts changed while deck waited for the lock (" + s.Describe() + "); planning again"})
	}
	if err := s.Read(ctx); err != nil {
		return err
	}
	if d.Desired != nil {
		fresh, err := d.desired(ctx, s)
		if err != nil {
			return err
		}
		*res = *fresh
	} else {
		// What was read before the lock may be stale too: the count the autoscaler set
		// meanwhile, and, for deck rollback, which revision is the one before the current.
		if d.Rollback != nil && d.Rollback.To == 0 {
			if err := d.resolveRollback(ctx, s, res); err != nil {
				return err
			}
		}
		if err := d.keepScaledCounts(ctx, s, res); err != nil {
			return err
		}
	}
	plan, err := d.planAndShow(ctx, s, res)
	if err != nil {
		return err
	}
	out.Plan = plan
	return nil
}

// countsRescaled reports whether, now that the lock is held, the autoscaler's recorded
// count of a service with a count range differs from the one the plan was made with: it
// may have scaled while deck waited for the lock, without a task changing yet.
func (d *Deploy) countsRescaled(ctx context.Context, s *Session, res *Resolved, lease Lease) bool {
	if lease == nil || d.Desired != nil || d.Saved != nil {
		return false
	}
	was := map[string]int{}
	for _, dd := range res.Desired {
		if dd.Service.Count.Range != nil {
			was[dd.Service.Name] = dd.Service.Count.Value
		}
	}
	if len(was) == 0 {
		return false
	}
	recs, err := readDesired(ctx, s) // read again: List dropped the records read before
	if err != nil {
		return false // planned with what was read; the executor's fence guards the rest
	}
	for _, dd := range res.Desired {
		if n, ok := was[dd.Service.Name]; ok {
			if rec, ok := recs[dd.Service.Name]; ok && keptCount(dd.Service.Count, rec.State.Count.Value) != n {
				return true
			}
		}
	}
	return false
}

func (d Deploy) planAndShow(ctx context.Context, s *Session, res *Resolved) (*planner.Plan, error) {
	plan, err := d.plan(ctx, s, res)
	if err != nil {
		return nil, err
	}
	if d.Planned != nil {
		if err := d.Planned(plan); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// fenced is lease.Check as the executor words it: every write of the run asks it first, so
// a run whose lock was broken or taken over writes nothing more (no desired state, no
// revision, no outcome for a revision its successor may be deploying).
func fenced(lease Lease) func() error {
	return func() error {
		if lease == nil {
			return nil
		}
		if err := lease.Check(); err != nil {
			return fmt.Errorf("%w: %w", executor.ErrLockLost, err)
		}
		return nil
	}
}

func (d Deploy) apply(ctx context.Context, out *Outcome, res *Resolved, lease Lease, before map[string]desiredRecord) error {
	s, plan := out.Session, out.Plan
	fence := fenced(lease)
	if !d.Heal {
		if err := fence(); err != nil {
			return err
		}
		if err := WriteDesired(ctx, s, d.Target.Services, d.Delete); err != nil {
			return err
		}
	}
	opts := executor.Options{Fleet: s.Fleet, Builds: res.Builds, Secrets: res.Secrets, Events: d.Events,
		BuildOutput: d.BuildOutput, Desired: map[string]providers.DesiredState{}, Balancers: s.OpenedBalancers(),
		HTTPClient: d.HTTPClient}
	for _, svc := range d.Target.Services {
		opts.Desired[svc.Name] = providers.DesiredStateOf(svc)
	}
	if lease != nil {
		opts.Epoch, opts.Fence = lease.Epoch(), lease.Check
	}
	hist, err := s.readHistory(ctx, plan)
	if err != nil {
		return err
	}
	keep := d.KeepRevisions
	if keep <= 0 {
		keep = DefaultKeepRevisions
	}
	opts.KeepSecrets = keepSecrets(s.T.App.Name, s.T.Env.Name, hist, keep)
	if d.Builder != nil {
		b, err := d.Builder(ctx)
		if err != nil {
			return err
		}
		if b != nil {
			defer b.Close()
			opts.Builder = b
		}
	}
	if d.Heal {
		out.Result, err = executor.Apply(ctx, plan, opts)
		return err
	}
	if err := fence(); err != nil {
		return err
	}
	nums, created, err := d.startRevisions(ctx, s, plan, hist)
	if err != nil {
		// Nothing was applied: the revisions this run recorded before the failure end
		// here, failed, so that no controller rolls out what the user was told failed.
		if fence() == nil {
			store := s.history()
			for svc := range created {
				_ = store.Finish(context.WithoutCancel(ctx), svc, nums[svc], history.Failed, oneLine(err))
			}
		}
		return err
	}
	out.Revisions = nums
	d.logStart(plan, nums)
	out.Result, err = executor.Apply(ctx, plan, opts)
	if out.Result == nil || len(out.Result.Services) == 0 {
		// Nothing was applied (a refused plan, images or secrets that could not be put on
		// the hosts): the revisions started above end here, failed.
		if err != nil && fence() == nil {
			store := s.history()
			for svc, n := range nums {
				_ = store.Finish(context.WithoutCancel(ctx), svc, n, history.Failed, oneLine(err))
			}
		}
		return err
	}
	err = d.finish(ctx, out, opts, nums, created, hist, before, fence, err)
	d.pruneImages(ctx, s, plan, hist, keep)
	return err
}

func (d Deploy) plan(ctx context.Context, s *Session, res *Resolved) (*planner.Plan, error) {
	if d.Saved != nil {
		if err := s.CheckSaved(d.Saved, res, d.Target.Services, d.SavedPath); err != nil {
			return nil, err
		}
		return d.Saved, nil
	}
	jobs, err := s.jobRecords(ctx, res.Desired, d.Delete)
	if err != nil {
		return nil, err
	}
	plan, err := s.Plan(ctx, res.Desired, planner.Options{Delete: d.Delete, Partial: d.Partial, Grace: s.Grace, GraceUnknown: s.GraceUnknown,
		Jobs: jobs, Now: time.Now(), HoldRoutedWhenBalancerDown: d.Heal})
	if err == nil && !d.Heal && len(d.Target.Services) > 0 {
		plan.Settings = settingsDigests(d.Target.Services)
	}
	return plan, err
}

// refuseNewerEpochs is the fencing check on what deck reads: a task created under a
// later lock epoch than the one held means another deploy holds (or held) the lock after
// this one, so this one must not write.
func (s *Session) refuseNewerEpochs(epoch uint64) error {
	for _, h := range s.Obs.Hosts {
		for _, t := range h.Tasks {
			if t.Meta.Epoch > epoch {
				return fmt.Errorf("%w: task %s on %s was created under lock epoch %d, later than this deploy's %d; nothing was changed",
					executor.ErrLockLost, t.TaskID, h.Spec.Name, t.Meta.Epoch, epoch)
			}
		}
	}
	return nil
}

// Endpoints are address:port of the service's running tasks after the apply: those that
// ran before and were not stopped, and those it started. Worked out from what the run
// already knows, so a summary costs no second read of the hosts. For a service rolled
// back, that is what the rollback started and stopped, from the hosts as it read them.
func (o *Outcome) Endpoints(service string) []string {
	var eps []string
	stopped := map[string]bool{}
	results := o.Rollbacks
	if !slices.ContainsFunc(results, func(sr executor.ServiceResult) bool { return sr.Name == service }) && o.Result != nil {
		results = o.Result.Services
	}
	for _, sr := range results {
		if sr.Name != service {
			continue
		}
		for _, id := range sr.StoppedIDs {
			stopped[id] = true
		}
		for _, t := range sr.Created {
			if t.Address != "" {
				eps = append(eps, t.Address)
			}
		}
	}
	for _, t := range o.Session.Snap.TasksByService(service) {
		if t.Running() && t.HostReachable && !stopped[t.ID] {
			if ep := o.Session.Endpoint(*t.Task); ep != "" {
				eps = append(eps, ep)
			}
		}
	}
	// A task an earlier run started and this one verified is both in the snapshot and
	// among the created: listed once.
	sort.Strings(eps)
	return slices.Compact(eps)
}

// URLs are the addresses clients use to reach a routed service through each of the
// environment's load balancers.
func (o *Outcome) URLs(service string) []string {
	if o.Plan == nil || o.Session == nil {
		return nil
	}
	r, ok := o.Plan.Routes[service]
	if !ok {
		return nil
	}
	var out []string
	for _, b := range o.Session.T.Env.LoadBalancers {
		u := "http://" + b.Listen + r.Path
		if len(r.Hosts) > 0 {
			u += " (Host: " + r.Hosts[0] + ")"
		}
		out = append(out, u)
	}
	return out
}
