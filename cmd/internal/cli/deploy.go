package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/planner"
	"github.com/deckhq/deck/providers/history"
)

// DeployOptions are deck deploy's inputs.
type DeployOptions struct {
	Deps     Deps
	Globals  *Globals
	PlanFile string // apply this saved plan instead of planning now
	Lock     LockFlags
	// Via names what ran the deploy when not the command itself ("deck console"): the
	// history's trigger says so.
	Via string
}

// NewCmdDeploy builds `deck deploy`.
func NewCmdDeploy(deps Deps, g *Globals, runF func(*DeployOptions) error) *cobra.Command {
	opts := &DeployOptions{Deps: deps, Globals: g}
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Plan, confirm and apply: make the hosts run what the manifests say",
		Long: `Take the environment's deploy lock, plan the changes, show them, ask for confirmation (--yes
skips it; it is required when not on a terminal), then apply them: new tasks start and must be
healthy before the tasks they replace stop. A task that fails is removed, with its stop reason
and last log lines shown, and the service keeps serving from the tasks it had.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runDeploy(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.PlanFile, "plan", "", "apply a plan saved with deck plan --out (refused if the hosts changed since)")
	opts.Lock.addFlags(cmd)
	return cmd
}

func runDeploy(ctx context.Context, o *DeployOptions) error {
	deps, g := o.Deps, o.Globals
	if err := o.Lock.check(); err != nil {
		return err
	}
	w, err := loadManifests(deps, g, true)
	if err != nil {
		return err
	}
	meta := func() history.Meta {
		m := history.CollectMeta(w.app.Dir, lookupString(deps))
		m.Trigger = via(o.Via, "deck deploy")
		return m
	}
	d := pipeline.Deploy{Target: w.target(deps, g), LookupEnv: deps.LookupEnv, DeckFiles: w.deckFiles(),
		Lock: o.Lock.taker(deps, "deploy"), Builder: w.builder(deps, g), Meta: meta,
		Planned: func(p *planner.Plan) error { return showAndConfirm(deps, g, p, "Apply this plan?") }}
	if o.PlanFile != "" {
		if d.Saved, err = readPlan(o.PlanFile); err != nil {
			return err
		}
		d.SavedPath = o.PlanFile
	}
	return runPipeline(ctx, deps, g, d, "deploy")
}

// via is the history's trigger of command run through what (a button of deck console).
func via(what, command string) string {
	if what == "" {
		return command
	}
	return what + " (" + command + ")"
}

// runPipeline runs d with live progress, then prints the summary and, on failure, what
// failed and why (with -o json, one DeployReport).
func runPipeline(ctx context.Context, deps Deps, g *Globals, d pipeline.Deploy, verb string) error {
	return runPipelineThen(ctx, deps, g, d, verb, nil)
}

// runPipelineThen is runPipeline with more to do after a run that succeeded; with -o json
// what more does goes into the report, printed once it is done.
func runPipelineThen(ctx context.Context, deps Deps, g *Globals, d pipeline.Deploy, verb string, more func(*DeployReport) error) error {
	prog := newProgress(deps)
	d.Events = prog.Event
	d.Log = pipeline.NewEventLog(nil)
	out, err := d.Run(ctx)
	ghDeploy(deps, verb, out, err)
	if out.Session != nil {
		defer out.Session.Close()
		// The run's events go to the hosts' event log while the summary prints; deck
		// exits once they are written (before the session closes: defers run last first).
		flushed := make(chan error, 1)
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*g.HostTimeout)
			defer cancel()
			flushed <- d.Log.Flush(fctx, out.Session)
		}()
		defer func() {
			if err := <-flushed; err != nil {
				fmt.Fprintf(deps.IO.ErrOut, "Warning: the event log (deck events) misses this run's events on some hosts: %v\n", err)
			}
		}()
	}
	if g.Output == "json" {
		if out.Plan == nil && err != nil {
			return err // the error document
		}
		printFailures(deps, err) // for whoever reads the CI log; the report has them too
		r := deployReport(out, err, verb)
		if more != nil && r.Error == nil {
			if err := more(r); err != nil {
				r.Error = newErrorJSON(err, exitCode(err))
			}
		}
		return writeDeployReport(deps, r)
	}
	if out.Result == nil {
		if errors.Is(err, pipeline.ErrCancelled) {
			fmt.Fprintln(deps.IO.ErrOut, "Cancelled; nothing was changed.")
			return &ExitError{Code: 1}
		}
		if err == nil && more != nil {
			return more(&DeployReport{Forgotten: out.Forgotten})
		}
		return err
	}
	printSummary(deps, g, out)
	if err != nil {
		printFailures(deps, err)
		var rb *pipeline.RolledBackError
		if errors.As(err, &rb) && rb.Rollback == nil {
			return fmt.Errorf("%s failed: %w.\nThe old revision served throughout. Fix the cause and run deck %s again", verb, err, verb)
		}
		after := "Every task that was running before keeps serving"
		if n := out.Result.Stopped(); n > 0 {
			after = fmt.Sprintf("%d old tasks were stopped as planned before it failed; deck status shows what runs now", n)
		}
		if n := out.Result.Started(); n > 0 {
			after += fmt.Sprintf(", and %d new tasks that passed their health checks run beside them", n)
		}
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("%s interrupted: %w\n%s. The revision is recorded as failed, so a running deck controller returns the service to its last completed revision; run deck %s again to roll it out",
				verb, err, after, verb)
		}
		return fmt.Errorf("%s failed: %w\n%s. Fix the cause and run deck %s again", verb, err, after, verb)
	}
	if more != nil {
		return more(&DeployReport{Applied: true})
	}
	return nil
}

// showAndConfirm prints the plan and asks before changing anything, unless --yes. Off a
// terminal, --yes is required. With -o json the plan is in the report printed at the end,
// and shown as text on stderr only to be asked about.
func showAndConfirm(deps Deps, g *Globals, plan *planner.Plan, question string) error {
	switch {
	case g.Output != "json":
		if err := printPlan(deps, g, plan); err != nil {
			return err
		}
	case !plan.Empty() && !g.Yes && deps.IO.CanPrompt():
		if err := planner.RenderText(deps.IO.ErrOut, plan, planner.PlainStyle{}); err != nil {
			return err
		}
	}
	if plan.Empty() || g.Yes {
		return nil
	}
	if !deps.IO.CanPrompt() {
		return errors.New("not on a terminal, so deck cannot ask for confirmation: run again with --yes")
	}
	ok, err := deps.IO.Confirm(question)
	if err != nil {
		return err
	}
	if !ok {
		return pipeline.ErrCancelled
	}
	return nil
}

// printFailures shows, under the failure, each failed task's stop reason and last log
// lines: read before the task was removed, so the user sees why it failed.
func printFailures(deps Deps, err error) {
	fs := executor.Failures(err)
	if len(fs) == 0 {
		return
	}
	fmt.Fprintln(deps.IO.ErrOut)
	for _, f := range fs {
		fmt.Fprintln(deps.IO.ErrOut, f.Detail())
	}
	fmt.Fprintln(deps.IO.ErrOut)
}

// printSummary lists, per service, what was done and the endpoints of its running tasks.
func printSummary(deps Deps, g *Globals, out *pipeline.Outcome) {
	c := colors(deps)
	fmt.Fprintln(deps.IO.Out)
	for _, sr := range out.Result.Services {
		mark := c.Green("✓")
		if sr.Err != nil {
			mark = c.Red("✗")
		}
		fmt.Fprintf(deps.IO.Out, "%s %s: %d started, %d stopped", mark, sr.Name, len(sr.Created), sr.Stopped)
		if sr.Left > 0 {
			fmt.Fprintf(deps.IO.Out, ", %d left on unreachable hosts", sr.Left)
		}
		fmt.Fprintln(deps.IO.Out)
		eps := out.Endpoints(sr.Name)
		if len(eps) > 0 {
			fmt.Fprintf(deps.IO.Out, "  endpoints: %s\n", strings.Join(eps, " "))
		}
		if urls := out.URLs(sr.Name); len(urls) > 0 && len(eps) > 0 { // no task runs: nothing answers there

			fmt.Fprintf(deps.IO.Out, "  through the load balancer: %s\n", strings.Join(urls, " "))
		}
	}
	for _, sr := range out.Rollbacks {
		mark := c.Green("↩")
		if sr.Err != nil {
			mark = c.Red("✗")
		}
		if sr.Err == nil && len(sr.Created) == 0 && sr.Stopped == 0 {
			fmt.Fprintf(deps.IO.Out, "%s %s rolled back: nothing to undo, the old tasks served throughout\n", mark, sr.Name)
			continue
		}
		fmt.Fprintf(deps.IO.Out, "%s %s rolled back: %d started, %d stopped\n", mark, sr.Name, len(sr.Created), sr.Stopped)
	}
}

// readPlan reads a plan saved by deck plan --out.
func readPlan(path string) (*planner.Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	plan, err := planner.ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("reading plan %s: %w", path, err)
	}
	return plan, nil
}
