package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/planner"
)

// DeleteOptions are deck delete's inputs.
type DeleteOptions struct {
	Deps    Deps
	Globals *Globals
	Service string
}

// NewCmdDelete builds `deck delete SERVICE`.
func NewCmdDelete(deps Deps, g *Globals, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Deps: deps, Globals: g}
	return &cobra.Command{
		Use:   "delete SERVICE",
		Short: "Stop and remove every task of a service in the environment",
		Long: `Plan the removal of every task of SERVICE, show it, confirm (--yes skips), and apply it.
The service's manifest is not needed, so a service whose manifest was removed can still be deleted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Service = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runDelete(cmd, opts)
		},
	}
}

func runDelete(cmd *cobra.Command, o *DeleteOptions) error {
	deps, g := o.Deps, o.Globals
	w, err := loadManifests(deps, g, false)
	if err != nil {
		return err
	}
	if err := w.observe(cmd.Context(), deps); err != nil {
		return err
	}
	defer w.Close()
	if len(w.snap.TasksByService(o.Service)) == 0 {
		return fmt.Errorf("service %s has no tasks in app %s, environment %s: nothing to delete", o.Service, w.app.Name, w.env.Name)
	}
	plan, err := planner.Compute(nil, w.snap, planner.Options{Delete: []string{o.Service}, Partial: true})
	if err != nil {
		return err
	}
	if err := printPlan(deps, g, plan); err != nil {
		return err
	}
	if err := confirm(deps, g, fmt.Sprintf("Delete service %s?", o.Service)); err != nil {
		return err
	}
	if err := checkUnchanged(cmd.Context(), deps, w, plan); err != nil {
		return err
	}
	return apply(cmd.Context(), deps, g, w, plan, nil, "delete")
}
