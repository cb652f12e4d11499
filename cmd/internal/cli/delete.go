package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/planner"
)

// DeleteOptions are deck delete's inputs.
type DeleteOptions struct {
	Deps    Deps
	Globals *Globals
	Service string
	Lock    LockFlags
}

// NewCmdDelete builds `deck delete SERVICE`.
func NewCmdDelete(deps Deps, g *Globals, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Deps: deps, Globals: g}
	cmd := &cobra.Command{
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
	opts.Lock.addFlags(cmd)
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
	d := pipeline.Deploy{Target: w.target(deps, g), Delete: []string{o.Service}, Partial: true,
		Lock: o.Lock.taker(deps, "delete "+o.Service),
		Planned: func(p *planner.Plan) error {
			if p.Empty() {
				return fmt.Errorf("service %s has no tasks in app %s, environment %s: nothing to delete", o.Service, w.app.Name, w.env.Name)
			}
			return showAndConfirm(deps, g, p, fmt.Sprintf("Delete service %s?", o.Service))
		}}
	return runPipeline(cmd.Context(), deps, g, d, "delete")
}
