package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
)

func jsonMarshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// need is one host that will run tasks of a revision.
type need struct {
	host string
	rev  planner.Revision
}

func (a *applier) needs() []need {
	seen := map[string]bool{}
	var out []need
	add := func(host, rev string) {
		if key := host + "\x00" + rev; !seen[key] {
			seen[key] = true
			out = append(out, need{host: host, rev: a.plan.Revisions[rev]})
		}
	}
	for _, c := range a.plan.Changes {
		if c.Kind == planner.KindJob && c.Job != nil && c.Action != planner.Destroy {
			for _, h := range c.Job.Hosts {
				add(h, c.Revision) // a run may be placed on any of them
			}
			continue
		}
		if c.Kind != planner.KindTask || c.Action == planner.Destroy || c.Action == planner.Verify {
			continue // nothing new is created on the host
		}
		add(c.Host, c.Revision)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].host+out[i].rev.ID < out[j].host+out[j].rev.ID })
	return out
}

// prepare puts every image and secret the new tasks need on their hosts: it builds images
// that come from a Containerfile (once, on the builder), copies them to hosts that lack them
// (export and load, host to host), pulls images given by location, and creates secrets.
func (a *applier) prepare(ctx context.Context) error {
	needs := a.needs()
	if len(needs) == 0 {
		return nil
	}
	for _, n := range needs {
		if _, err := a.host(n.host); err != nil {
			return err
		}
	}
	built := map[string]error{}
	for _, n := range needs {
		ref := n.rev.Task.Image
		if _, ok := a.opts.Builds[ref]; ok {
			if _, done := built[ref]; !done {
				built[ref] = a.build(ctx, ref)
			}
			if built[ref] != nil {
				return built[ref]
			}
		}
	}
	// One goroutine per host: a host's images and secrets are prepared in order, hosts in parallel.
	byHost := map[string][]need{}
	for _, n := range needs {
		byHost[n.host] = append(byHost[n.host], n)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for host, ns := range byHost {
		wg.Add(1)
		go func(host string, ns []need) {
			defer wg.Done()
			h, _ := a.host(host)
			for _, n := range ns {
				err := a.ensureImage(ctx, h, n.rev.Task.Image)
				if err == nil {
					err = a.ensureSecrets(ctx, h, n.rev)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, &providers.HostError{Host: host, URL: h.Spec().URL, Op: "prepare", Err: err})
					mu.Unlock()
					return
				}
			}
		}(host, ns)
	}
	a.spreadSecrets(ctx, needs, &wg)
	wg.Wait()
	return errors.Join(errs...)
}

// spreadSecrets creates the new revisions' secrets on the reachable hosts that get no
// task of them now, alongside the rest of prepare: the controller, which has no secret
// values, may have to place a task of the revision there later (a host lost, a task
// replaced). Best effort: a host that fails it gets the value at its next deploy.
func (a *applier) spreadSecrets(ctx context.Context, needs []need, wg *sync.WaitGroup) {
	has := map[string]bool{}
	revs := map[string]planner.Revision{}
	for _, n := range needs {
		has[n.host+"\x00"+n.rev.ID] = true
		if len(n.rev.Task.Secrets) > 0 {
			revs[n.rev.ID] = n.rev
		}
	}
	for _, name := range a.opts.Fleet.Names() {
		h := a.opts.Fleet.Host(name)
		for id, rev := range revs {
			if h == nil || has[name+"\x00"+id] {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = a.ensureSecrets(ctx, h, rev)
			}()
		}
	}
}

func (a *applier) builder() (providers.Host, error) {
	if a.opts.Builder != nil {
		return a.opts.Builder, nil
	}
	names := a.opts.Fleet.Names()
	if len(names) == 0 {
		return nil, errors.New("no host is reachable to build images on")
	}
	return a.opts.Fleet.Host(names[0]), nil
}

func (a *applier) build(ctx context.Context, ref string) error {
	b, err := a.builder()
	if err != nil {
		return err
	}
	if ok, err := b.ImageExists(ctx, ref); err != nil {
		return err
	} else if ok {
		return nil
	}
	spec := a.opts.Builds[ref]
	a.emit(Event{Kind: EventImageBuild, Host: b.Name(), Message: ref + " from " + spec.Context})
	out := a.opts.BuildOutput
	if out == nil {
		out = io.Discard
	}
	if err := b.Build(ctx, providers.BuildRequest{Ref: ref, Context: spec.Context,
		Containerfile: spec.Containerfile, Args: spec.Args, Output: out}); err != nil {
		return fmt.Errorf("building %s from %s: %w", ref, spec.Context, err)
	}
	return nil
}

// ensureImage makes sure ref is on h: built images are copied from the builder (or any
// connected host that has it); other images are pulled.
func (a *applier) ensureImage(ctx context.Context, h providers.Host, ref string) error {
	var sources []providers.Host
	if b, err := a.builder(); err == nil {
		sources = append(sources, b)
	}
	for _, n := range a.opts.Fleet.Names() {
		sources = append(sources, a.opts.Fleet.Host(n))
	}
	_, built := a.opts.Builds[ref]
	return EnsureImage(ctx, h, ref, sources, !built, a.emit)
}

func (a *applier) ensureSecrets(ctx context.Context, h providers.Host, rev planner.Revision) error {
	for _, s := range rev.Task.Secrets {
		name := SecretName(a.plan.App, a.plan.Env, rev.Service, s.Name, s.Digest)
		val, ok := a.opts.Secrets[name]
		if !ok {
			// A kept revision (a rollback) whose secret's source was not read, or has
			// another value now: the host may still hold the old value under its digest's name.
			if names, err := h.ListSecrets(ctx, name); err == nil && slices.Contains(names, name) {
				continue
			}
			return fmt.Errorf("secret %s of service %s: this revision's value is no longer kept on host %s (the hosts keep the values of the last revisions only), "+
				"and the secret's source, as the manifest names it here, does not give it (not set where deck runs, or another value now); "+
				"set the source to that value and run the rollback again, or deploy the current manifests instead",
				s.Name, rev.Service, h.Name())
		}
		if err := h.EnsureSecret(ctx, name, val); err != nil {
			return fmt.Errorf("secret %s of service %s: %w", s.Name, rev.Service, err)
		}
	}
	return nil
}

// pruneSecrets removes a service's Podman secrets that its desired revision no longer uses
// (all of them when the service is deleted), once every wave succeeded. Secrets are copied
// into a container when it is created, so running tasks do not need them.
func (a *applier) pruneSecrets(ctx context.Context, sp planner.ServicePlan) {
	keep := map[string]bool{}
	for n := range a.opts.KeepSecrets {
		keep[n] = true // the kept revisions' secrets: a rollback creates tasks from them
	}
	if rev, ok := a.plan.Revisions[sp.Revision]; ok {
		for _, s := range rev.Task.Secrets {
			keep[SecretName(a.plan.App, a.plan.Env, sp.Name, s.Name, s.Digest)] = true
		}
	} else if !sp.Delete {
		// The revision is unchanged (nothing was created): its secrets are the ones in use,
		// and this plan does not say which they are, so leave them.
		return
	}
	prefix := SecretPrefix(a.plan.App, a.plan.Env, sp.Name)
	for _, n := range a.opts.Fleet.Names() {
		h := a.opts.Fleet.Host(n)
		names, err := h.ListSecrets(ctx, prefix)
		if err != nil {
			continue
		}
		for _, name := range names {
			if !keep[name] && strings.HasPrefix(name, prefix) {
				_ = h.RemoveSecret(ctx, name)
			}
		}
	}
}
