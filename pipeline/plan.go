package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
)

// Plan computes the plan from the last Read. The hosts' capacity is slow to read and
// only needed when the plan places tasks, so it is read then, and the plan made again.
func (s *Session) Plan(ctx context.Context, desired []planner.Desired, opts planner.Options) (*planner.Plan, error) {
	plan, err := planner.Compute(desired, s.Snap, opts)
	if errors.Is(err, planner.ErrCapacityUnknown) {
		if err := s.ReadCapacity(ctx); err != nil {
			return nil, err
		}
		plan, err = planner.Compute(desired, s.Snap, opts)
	}
	return plan, err
}

// settingsDigests digests each service's desired state, as the deploy would record it
// (WriteDesired): what a saved plan's Settings hold.
func settingsDigests(services []manifest.ServiceSpec) map[string]string {
	out := make(map[string]string, len(services))
	for _, svc := range services {
		b, _ := json.Marshal(providers.DesiredStateOf(svc))
		sum := sha256.Sum256(b)
		out[svc.Name] = hex.EncodeToString(sum[:8])
	}
	return out
}

// CheckSaved checks that a saved plan still applies: same app and environment, the
// hosts unchanged since it was made, the same images and secrets, and the same settings
// (services, the deploy's own, as the desired state it records).
func (s *Session) CheckSaved(plan *planner.Plan, res *Resolved, services []manifest.ServiceSpec, path string) error {
	app, env := s.T.App.Name, s.T.Env.Name
	if plan.App != app || plan.Env != env {
		return fmt.Errorf("plan %s is for app %s, environment %s; this is app %s, environment %s",
			path, plan.App, plan.Env, app, env)
	}
	if fp := s.Snap.Fingerprint(); fp != plan.Fingerprint {
		return fmt.Errorf("%w: plan %s was made from snapshot %s, the hosts now give %s (%s). Run deck plan again",
			executor.ErrStalePlan, path, plan.Fingerprint, fp, s.Describe())
	}
	if err := checkUnedited(plan, s, res, path); err != nil {
		return err
	}
	// Each service's revision as the manifests, images and secrets give it now must be the
	// one the plan was made for, whatever the plan does to it: a plan that only scales in
	// or registers targets names no revision of its own below, and would otherwise apply
	// over a changed secret or image as if nothing had changed.
	now := map[string]planner.Revision{}
	for _, d := range res.Desired {
		now[d.Service.Name] = d.Revision
	}
	for _, sp := range plan.Services {
		if rev, ok := now[sp.Name]; ok && sp.Revision != "" && rev.ID != sp.Revision {
			what := "its manifest, image or a secret"
			if was, ok := plan.Revisions[sp.Revision]; ok {
				if fields := planner.ChangedFields(was.Task, rev.Task); len(fields) > 0 {
					what = "its " + strings.Join(fields, ", ") // secrets: a secret's value
				}
			}
			return fmt.Errorf("service %s changed since plan %s was made (%s changed: it now gives revision %s, not %s). Run deck plan again",
				sp.Name, path, what, rev.ID, sp.Revision)
		}
	}
	for name, digest := range settingsDigests(services) {
		if was, ok := plan.Settings[name]; ok && was != digest {
			return fmt.Errorf("the settings of service %s (count, scaling, rollout, placement, schedule or route) changed since plan %s was made. Run deck plan again",
				name, path)
		}
	}
	for _, rev := range plan.Revisions {
		if strings.HasPrefix(rev.Task.Image, "localhost/deck/") {
			if _, ok := res.Builds[rev.Task.Image]; !ok {
				return fmt.Errorf("the build context of service %s changed since plan %s was made (it no longer gives image %s). Run deck plan again",
					rev.Service, path, rev.Task.Image)
			}
		}
		for _, sec := range rev.Task.Secrets {
			if _, ok := res.Secrets[executor.SecretName(plan.App, plan.Env, rev.Service, sec.Name, sec.Digest)]; !ok {
				return fmt.Errorf("secret %s of service %s changed since plan %s was made. Run deck plan again", sec.Name, rev.Service, path)
			}
		}
	}
	return nil
}

// checkUnedited refuses a plan file edited since deck wrote it, where an edit would
// change what runs or what is routed to without the checks above seeing it: a task
// definition that no longer gives its revision id (an image, a command or a variable
// changed by hand), a route whose settings are not the manifest's, a target that is no
// running task's of the service.
func checkUnedited(plan *planner.Plan, s *Session, res *Resolved, path string) error {
	edited := func(what string) error {
		return fmt.Errorf("plan %s was edited since deck plan wrote it: %s. Nothing was changed; run deck plan again", path, what)
	}
	for id, rev := range plan.Revisions {
		if got := planner.NewRevision(rev.Service, rev.Task).ID; got != id || rev.ID != id {
			return edited(fmt.Sprintf("the task definition of service %s under revision %s gives revision %s", rev.Service, id, got))
		}
	}
	for _, c := range plan.Changes {
		if c.Revision != "" {
			if _, ok := plan.Revisions[c.Revision]; !ok {
				return edited(fmt.Sprintf("a change of service %s names revision %s, which the plan does not hold", c.Service, c.Revision))
			}
		}
	}
	for _, d := range res.Desired {
		r, ok := plan.Routes[d.Service.Name]
		if !ok || d.Service.HTTP == nil {
			continue
		}
		if fields := planner.RouteFieldsChanged(r, planner.RouteOf(plan.App, plan.Env, d.Service)); len(fields) > 0 {
			return edited(fmt.Sprintf("the route of service %s is not the one its manifest gives (%s)", d.Service.Name, strings.Join(fields, ", ")))
		}
		running := map[string]bool{}
		for t := range s.Snap.EachTaskOf(d.Service.Name) {
			if t.Running() {
				running[t.Address(t.HostAddress)] = true
			}
		}
		for _, a := range slices.Concat(r.Targets, r.Draining) {
			if !running[a] {
				return edited(fmt.Sprintf("the route of service %s sends requests to %s, which no running task of it has", d.Service.Name, a))
			}
		}
	}
	return nil
}
