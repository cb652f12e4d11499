package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers/history"
)

// RollbackOptions are deck rollback's inputs.
type RollbackOptions struct {
	Deps    Deps
	Globals *Globals
	Service string
	To      int // 0: the completed revision before the current one
	Lock    LockFlags
	Via     string // as DeployOptions.Via
}

// NewCmdRollback builds `deck rollback`.
func NewCmdRollback(deps Deps, g *Globals, runF func(*RollbackOptions) error) *cobra.Command {
	opts := &RollbackOptions{Deps: deps, Globals: g}
	cmd := &cobra.Command{
		Use:   "rollback SERVICE",
		Short: "Return a service to a kept revision, without rebuilding",
		Long: `Deploy a revision of SERVICE that deck recorded on the hosts: its task definition and image as
they were, with the same health-gated rollout, load-balancer draining and lock as deck deploy.
Nothing is built. With no --to, the service returns to the completed revision before the one
it runs now. The count, route and rollout settings come from the service's manifest.
deck history SERVICE lists the kept revisions.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Service = args[0]
			if cmd.Flags().Changed("to") && opts.To < 1 {
				// 0 would mean "no --to" below: refused rather than read as the default.
				return fmt.Errorf("--to %d: want a revision number, 1 or more (deck history %s lists them)", opts.To, opts.Service)
			}
			if runF != nil {
				return runF(opts)
			}
			return runRollback(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.To, "to", 0, "the revision `number` to return to (default: the previous completed one)")
	opts.Lock.addFlags(cmd)
	return cmd
}

func runRollback(ctx context.Context, o *RollbackOptions) error {
	deps, g := o.Deps, o.Globals
	if err := o.Lock.check(); err != nil {
		return err
	}
	w, err := loadManifestsWithoutSecrets(deps, g)
	if err != nil {
		return err
	}
	trigger := "deck rollback " + o.Service
	if o.To > 0 {
		trigger += " --to " + strconv.Itoa(o.To)
	}
	meta := func() history.Meta {
		m := history.CollectMeta(w.app.Dir, lookupString(deps))
		m.Trigger = via(o.Via, trigger)
		return m
	}
	d := pipeline.Deploy{Target: w.target(deps, g), LookupEnv: deps.LookupEnv, DeckFiles: w.deckFiles(),
		Lock: o.Lock.taker(deps, "rollback"), Meta: meta,
		Rollback: &pipeline.RollbackTarget{Service: o.Service, To: o.To},
		Planned:  func(p *planner.Plan) error { return showAndConfirm(deps, g, p, "Roll back?") }}
	return runPipeline(ctx, deps, g, d, "rollback")
}

// lookupString adapts LookupEnv to a getenv.
func lookupString(deps Deps) func(string) string {
	return func(k string) string {
		v, _ := deps.LookupEnv(k)
		return v
	}
}
