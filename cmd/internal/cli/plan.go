package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/pipeline"
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
	deps, g := o.Deps, o.Globals
	w, err := loadManifests(deps, g, true)
	if err != nil {
		return err
	}
	d := pipeline.Deploy{Target: w.target(deps, g), LookupEnv: deps.LookupEnv, DeckFiles: w.deckFiles(), PlanOnly: true,
		Planned: func(p *planner.Plan) error {
			if g.Output == "json" {
				return nil // printed once nothing more can fail: one document, the plan or the error
			}
			return printPlan(deps, g, p)
		}}
	out, err := d.Run(cmd.Context())
	ghPlan(deps, out, err)
	if out.Session != nil {
		defer out.Session.Close()
	}
	if err != nil {
		return err
	}
	plan := out.Plan
	if o.Out != "" {
		if err := savePlan(o.Out, plan); err != nil {
			return err
		}
		fmt.Fprintf(deps.IO.ErrOut, "Saved the plan to %s; apply it with: deck deploy --plan %s\n", o.Out, o.Out)
	}
	if g.Output == "json" {
		if err := printPlan(deps, g, plan); err != nil {
			return err
		}
	}
	if plan.Empty() {
		return nil
	}
	return &ExitError{Code: 2}
}

func savePlan(path string, plan *planner.Plan) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := planner.RenderJSON(f, plan); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func printPlan(deps Deps, g *Globals, plan *planner.Plan) error {
	if g.Output == "json" {
		return planner.RenderJSON(deps.IO.Out, plan)
	}
	return planner.RenderText(deps.IO.Out, plan, planStyle(deps))
}

// colors paints what goes to stdout: colour follows stdout's terminal, so
// `deck status 2>/dev/null | cat` prints no escape codes.
func colors(deps Deps) iostreams.Colors {
	return iostreams.Colors{Enabled: deps.IO.ColorEnabled()}
}

// planStyle colours the plan as Terraform does, when stdout is a terminal.
func planStyle(deps Deps) planner.Style {
	if !deps.IO.ColorEnabled() {
		return planner.PlainStyle{}
	}
	return ansiStyle{}
}

type ansiStyle struct{}

var actionColour = map[planner.Action]string{planner.Create: "\x1b[32m", planner.Replace: "\x1b[33m",
	planner.Destroy: "\x1b[31m", planner.Verify: "\x1b[36m"}

func (ansiStyle) Bold(s string) string    { return "\x1b[1m" + s + "\x1b[0m" }
func (ansiStyle) Warning(s string) string { return "\x1b[33m" + s + "\x1b[0m" }
func (ansiStyle) Action(a planner.Action, s string) string {
	return actionColour[a] + s + "\x1b[0m"
}
