package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers"
)

// DeleteOptions are deck delete's inputs.
type DeleteOptions struct {
	Deps    Deps
	Globals *Globals
	Service string
	Lock    LockFlags
	// Volumes removes the service's named volumes, and their data, once its tasks are gone.
	Volumes bool
}

// NewCmdDelete builds `deck delete SERVICE`.
func NewCmdDelete(deps Deps, g *Globals, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Deps: deps, Globals: g}
	cmd := &cobra.Command{
		Use:   "delete SERVICE",
		Short: "Stop and remove every task of a service in the environment",
		Long: `Plan the removal of every task of SERVICE, show it, confirm (--yes skips), and apply it.
The service's manifest is not needed, so a service whose manifest was removed can still be deleted.

Its named volumes, and their data, are kept unless --volumes is given: then they are removed from
every reachable host once the tasks are gone (those its manifest declares, and those its tasks
mounted). A volume another service's container still uses is left, and named.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Service = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runDelete(cmd, opts)
		},
	}
	opts.Lock.addFlags(cmd)
	cmd.Flags().BoolVar(&opts.Volumes, "volumes", false, "also remove the service's named volumes, and their data, from every host")
	return cmd
}

func runDelete(cmd *cobra.Command, o *DeleteOptions) error {
	deps, g := o.Deps, o.Globals
	if err := o.Lock.check(); err != nil {
		return err
	}
	w, err := loadManifests(deps, g, false)
	if err != nil {
		return err
	}
	declared := declaredVolumes(deps, w, o.Service)
	var mounted []manifest.Volume
	take := o.Lock.taker(deps, "delete "+o.Service)
	d := pipeline.Deploy{Target: w.target(deps, g), Delete: []string{o.Service}, Partial: true,
		Lock: func(ctx context.Context, s *pipeline.Session) (pipeline.Lease, error) {
			// The tasks' labels say what they mount; once they are gone, nothing does.
			mounted = s.MountedVolumes(o.Service)
			return take(ctx, s)
		},
		Planned: o.confirm(w, declared)}
	return runPipelineThen(cmd.Context(), deps, g, d, "delete", func(r *DeployReport) error {
		if len(r.Forgotten) > 0 {
			fmt.Fprintf(deps.IO.ErrOut, "Service %s had no tasks; its desired state is now recorded as deleted, so deck status and the controller forget it.\n", o.Service)
		} else if !r.Applied && !o.Volumes {
			return fmt.Errorf("service %s has no tasks and no desired state in app %s, environment %s: nothing to delete", o.Service, w.app.Name, w.env.Name)
		}
		volumes := pipeline.NamedVolumes(w.app.Name, w.env.Name, slices.Concat(declared, mounted))
		switch {
		case len(volumes) == 0:
			return nil
		case o.Volumes:
			removed, err := removeVolumes(cmd.Context(), deps, g, w, o.Service, volumes)
			r.Volumes = &VolumesJSON{Removed: removed}
			return err
		}
		r.Volumes = &VolumesJSON{Kept: volumes}
		hint := "deck delete " + o.Service + " --volumes"
		if len(declared) == 0 { // with the tasks gone, only a manifest would say which they are
			hint = "podman volume rm " + strings.Join(volumes, " ") + ", on each host"
		}
		fmt.Fprintf(deps.IO.ErrOut, "Kept the named volumes of service %s, and their data: %s. Remove them with: %s\n",
			o.Service, strings.Join(volumes, ", "), hint)
		return nil
	})
}

// confirm shows the plan and asks before deleting. With no tasks left, --volumes still
// removes the volumes the manifest declares, and the service's desired state, if the hosts
// keep one, is recorded as deleted without asking: nothing that runs changes.
func (o *DeleteOptions) confirm(w *world, declared []manifest.Volume) func(*planner.Plan) error {
	deps, g := o.Deps, o.Globals
	return func(p *planner.Plan) error {
		switch {
		case !p.Empty():
			return showAndConfirm(deps, g, p, o.question(w, declared))
		case o.Volumes && len(declared) > 0:
			return confirmVolumes(deps, g, pipeline.NamedVolumes(w.app.Name, w.env.Name, declared))
		case o.Volumes:
			return fmt.Errorf("service %s has no tasks in app %s, environment %s, and no manifest that declares volumes: "+
				"deck cannot tell which volumes were its", o.Service, w.app.Name, w.env.Name)
		}
		return nil // deck delete forgets its desired state, if it has one (pipeline.Outcome.Forgotten)
	}
}

// declaredVolumes are the volumes the service's manifest declares; none when it has no
// manifest (deleted), or the manifests do not load.
func declaredVolumes(deps Deps, w *world, service string) []manifest.Volume {
	specs, _ := manifest.LoadServices(w.app, w.env.Name, deps.LookupEnv)
	for _, s := range specs {
		if s.Name == service {
			return s.Task.Volumes
		}
	}
	return nil
}

func (o *DeleteOptions) question(w *world, declared []manifest.Volume) string {
	if !o.Volumes {
		return fmt.Sprintf("Delete service %s?", o.Service)
	}
	vols := "the named volumes its tasks mount"
	if names := pipeline.NamedVolumes(w.app.Name, w.env.Name, declared); len(names) > 0 {
		vols = "its volumes " + strings.Join(names, ", ")
	}
	return fmt.Sprintf("Delete service %s, and %s with their data?", o.Service, vols)
}

// confirmVolumes asks before removing the volumes of a service that has no tasks left.
func confirmVolumes(deps Deps, g *Globals, names []string) error {
	fmt.Fprintf(deps.IO.ErrOut, "The service has no tasks left; its volumes %s, and their data, will be removed from every host.\n",
		strings.Join(names, ", "))
	if g.Yes {
		return nil
	}
	if !deps.IO.CanPrompt() {
		return errors.New("not on a terminal, so deck cannot ask for confirmation: run again with --yes")
	}
	ok, err := deps.IO.Confirm("Remove these volumes?")
	if err != nil {
		return err
	}
	if !ok {
		return pipeline.ErrCancelled
	}
	return nil
}

// removeVolumes removes the volumes from every host it reaches, says what it left, and
// returns those it removed from some host.
func removeVolumes(ctx context.Context, deps Deps, g *Globals, w *world, service string, volumes []string) ([]string, error) {
	s, err := pipeline.Open(ctx, w.target(deps, g))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	removed, seen := map[string][]string{}, map[string]bool{}
	var left []string
	for _, r := range pipeline.RemoveVolumes(ctx, s, volumes) {
		var he *providers.HostError
		switch {
		case r.Err == nil:
			removed[r.Volume] = append(removed[r.Volume], r.Host)
		case errors.Is(r.Err, providers.ErrNotFound):
			continue
		case errors.As(r.Err, &he):
			left = append(left, r.Err.Error())
		default:
			left = append(left, fmt.Sprintf("host %s: removing volume %s: %v", r.Host, r.Volume, r.Err))
		}
		seen[r.Volume] = true
	}
	var gone []string
	for _, v := range volumes {
		switch {
		case len(removed[v]) > 0:
			gone = append(gone, v)
			fmt.Fprintf(deps.IO.ErrOut, "Removed volume %s from %s.\n", v, strings.Join(removed[v], ", "))
		case !seen[v]:
			fmt.Fprintf(deps.IO.ErrOut, "Volume %s was on no reachable host.\n", v)
		}
	}
	for _, h := range s.Obs.Hosts {
		if !h.Reachable {
			left = append(left, fmt.Sprintf("host %s is unreachable (%v)", h.Spec.Name, h.Err))
		}
	}
	if len(left) > 0 {
		return gone, fmt.Errorf("some volumes of service %s were left:\n  %s\nRun deck delete %s --volumes again once that is fixed",
			service, strings.Join(left, "\n  "), service)
	}
	return gone, nil
}
