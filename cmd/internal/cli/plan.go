package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/planner"
)

// PlanOptions are deck plan's inputs.
type PlanOptions struct {
	Deps    Deps
	Globals *Globals
	Out     string // save the plan as JSON to this file
}

// NewCmdPlan builds `deck plan`.
func NewCmdPlan(deps Deps, g *Globals, runF func(*PlanOptions) error) *cobra.Command {
	opts := &PlanOptions{Deps: deps, Globals: g}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what deploy would change, and why",
		Long: `Compare the manifests with what runs on the hosts and print the changes a deploy would make.
Exit status: 0 no changes, 2 changes, 1 error. --out saves the plan for deck deploy --plan.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runPlan(cmd, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Out, "out", "", "save the plan to this file (JSON) for deck deploy --plan")
	return cmd
}

func runPlan(cmd *cobra.Command, o *PlanOptions) error {
	w, plan, _, err := makePlan(cmd, o.Deps, o.Globals)
	if w != nil {
		defer w.Close()
	}
	if err != nil {
		return err
	}
	if err := printPlan(o.Deps, o.Globals, plan); err != nil {
		return err
	}
	if o.Out != "" {
		f, err := os.Create(o.Out)
		if err != nil {
			return err
		}
		if err := planner.RenderJSON(f, plan); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(o.Deps.IO.ErrOut, "Saved the plan to %s; apply it with: deck deploy --plan %s\n", o.Out, o.Out)
	}
	if plan.Empty() {
		return nil
	}
	return &ExitError{Code: 2}
}

// makePlan loads the manifests, resolves images and secrets, observes the hosts and computes the plan.
func makePlan(cmd *cobra.Command, deps Deps, g *Globals) (*world, *planner.Plan, *executor.Resolved, error) {
	w, err := loadManifests(deps, g, true)
	if err != nil {
		return nil, nil, nil, err
	}
	res, err := executor.Resolve(w.app.Name, w.env.Name, w.services, w.deckFiles(), deps.LookupEnv)
	if err != nil {
		return nil, nil, nil, err
	}
	// Plan first without the hosts' capacity, which is slow to read: a plan that places
	// nothing does not need it. When it places tasks, read it and plan again.
	if err := w.observeTasks(cmd.Context(), deps); err != nil {
		return w, nil, nil, err
	}
	plan, err := planner.Compute(res.Desired, w.snap, planner.Options{})
	if err == nil && !plan.Empty() {
		if err := w.readCapacity(cmd.Context()); err != nil {
			return w, nil, nil, err
		}
		plan, err = planner.Compute(res.Desired, w.snap, planner.Options{})
	}
	if err != nil {
		return w, nil, nil, err
	}
	return w, plan, res, nil
}

func printPlan(deps Deps, g *Globals, plan *planner.Plan) error {
	if g.Output == "json" {
		return planner.RenderJSON(deps.IO.Out, plan)
	}
	return planner.RenderText(deps.IO.Out, plan, deps.IO.ColorEnabled())
}

func colors(deps Deps) iostreams.Colors {
	return iostreams.Colors{Enabled: deps.IO.ErrColorEnabled()}
}
