package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/planner"
)

// DeployOptions are deck deploy's inputs.
type DeployOptions struct {
	Deps     Deps
	Globals  *Globals
	PlanFile string // apply this saved plan instead of planning now
}

// NewCmdDeploy builds `deck deploy`.
func NewCmdDeploy(deps Deps, g *Globals, runF func(*DeployOptions) error) *cobra.Command {
	opts := &DeployOptions{Deps: deps, Globals: g}
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Plan, confirm and apply: make the hosts run what the manifests say",
		Long: `Plan the changes, show them, ask for confirmation (--yes skips it; it is required when not on a
terminal), then apply them: new tasks start and must be healthy before the tasks they replace
stop. A task that fails is removed and the service keeps serving from the tasks it had.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runDeploy(cmd, opts)
		},
	}
	cmd.Flags().StringVar(&opts.PlanFile, "plan", "", "apply a plan saved with deck plan --out (refused if the hosts changed since)")
	return cmd
}

func runDeploy(cmd *cobra.Command, o *DeployOptions) error {
	deps, g := o.Deps, o.Globals
	var (
		w    *world
		plan *planner.Plan
		res  *executor.Resolved
		err  error
	)
	if o.PlanFile != "" {
		w, plan, res, err = loadSavedPlan(cmd, deps, g, o.PlanFile)
	} else {
		w, plan, res, err = makePlan(cmd, deps, g)
	}
	if w != nil {
		defer w.Close()
	}
	if err != nil {
		return err
	}
	if err := printPlan(deps, g, plan); err != nil {
		return err
	}
	if plan.Empty() {
		return nil
	}
	if err := confirm(deps, g, "Apply this plan?"); err != nil {
		return err
	}
	if err := checkUnchanged(cmd.Context(), deps, w, plan); err != nil {
		return err
	}
	return apply(cmd.Context(), deps, g, w, plan, res, "deploy")
}

// confirm asks before changing anything, unless --yes. Off a terminal, --yes is required.
func confirm(deps Deps, g *Globals, question string) error {
	if g.Yes {
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
		fmt.Fprintln(deps.IO.ErrOut, "Cancelled; nothing was changed.")
		return &ExitError{Code: 1}
	}
	return nil
}

// apply carries out the plan; verb (deploy, delete) names the command in messages.
func apply(ctx context.Context, deps Deps, g *Globals, w *world, plan *planner.Plan, res *executor.Resolved, verb string) error {
	b, err := w.builder(ctx, deps, g)
	if err != nil {
		return err
	}
	if b != nil {
		defer b.Close()
	}
	prog := newProgress(deps)
	opts := executor.Options{Fleet: w.fleet, Builder: b, Events: prog.Event}
	if res != nil {
		opts.Builds, opts.Secrets = res.Builds, res.Secrets
	}
	result, applyErr := executor.Apply(ctx, plan, opts)
	printSummary(deps, g, w, result)
	if applyErr != nil {
		after := "Every task that was running before keeps serving"
		if n := result.Stopped(); n > 0 {
			after = fmt.Sprintf("%d old tasks were stopped as planned before it failed; deck status shows what runs now", n)
		}
		return fmt.Errorf("%s failed: %w\n%s. Fix the cause and run deck %s again", verb, applyErr, after, verb)
	}
	return nil
}

// checkUnchanged reads the hosts' task lists again just before applying: a plan confirmed
// after a while at the prompt, or raced by another deploy, is refused rather than applied
// to hosts it was not made from.
func checkUnchanged(ctx context.Context, deps Deps, w *world, plan *planner.Plan) error {
	now := &world{app: w.app, env: w.env}
	if err := now.observeTasks(ctx, deps); err != nil {
		return err
	}
	defer now.Close()
	if fp := now.snap.Fingerprint(); fp != plan.Fingerprint {
		return fmt.Errorf("%w: the plan was made from snapshot %s, the hosts now give %s (%s). Nothing was changed; run deck deploy again",
			executor.ErrStalePlan, plan.Fingerprint, fp, describeHosts(now))
	}
	return nil
}

// printSummary lists, per service, what was done and the endpoints of its running tasks.
func printSummary(deps Deps, g *Globals, w *world, result *executor.Result) {
	if result == nil || g.Output == "json" {
		return
	}
	// Read the hosts again: the summary shows what runs now, not what the plan hoped for.
	after := &world{app: w.app, env: w.env}
	if err := after.observeTasks(context.Background(), deps); err != nil {
		return
	}
	defer after.Close()
	c := colors(deps)
	fmt.Fprintln(deps.IO.Out)
	for _, s := range result.Services {
		mark := c.Green("✓")
		if s.Err != nil {
			mark = c.Red("✗")
		}
		var eps []string
		for _, t := range after.snap.TasksByService(s.Name) {
			if !t.Task.Running() {
				continue
			}
			if ep := endpoint(after, t.Task.Host, t.Task.Labels); ep != "" {
				eps = append(eps, ep)
			}
		}
		sort.Strings(eps)
		fmt.Fprintf(deps.IO.Out, "%s %s: %d started, %d stopped", mark, s.Name, len(s.Created), s.Stopped)
		if s.Left > 0 {
			fmt.Fprintf(deps.IO.Out, ", %d left on unreachable hosts", s.Left)
		}
		fmt.Fprintln(deps.IO.Out)
		if len(eps) > 0 {
			fmt.Fprintf(deps.IO.Out, "  endpoints: %s\n", strings.Join(eps, " "))
		}
	}
}

// loadSavedPlan reads a plan saved by deck plan --out and checks it still applies: same app
// and environment, the hosts unchanged since it was made, the same images and secrets.
func loadSavedPlan(cmd *cobra.Command, deps Deps, g *Globals, path string) (*world, *planner.Plan, *executor.Resolved, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	plan, err := planner.ReadJSON(f)
	f.Close()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading plan %s: %w", path, err)
	}
	w, err := loadManifests(deps, g, true)
	if err != nil {
		return nil, nil, nil, err
	}
	if plan.App != w.app.Name || plan.Env != w.env.Name {
		return nil, nil, nil, fmt.Errorf("plan %s is for app %s, environment %s; this is app %s, environment %s",
			path, plan.App, plan.Env, w.app.Name, w.env.Name)
	}
	res, err := executor.Resolve(w.app.Name, w.env.Name, w.services, w.deckFiles(), deps.LookupEnv)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := w.observe(cmd.Context(), deps); err != nil {
		return w, nil, nil, err
	}
	if fp := w.snap.Fingerprint(); fp != plan.Fingerprint {
		return w, nil, nil, fmt.Errorf("%w: plan %s was made from snapshot %s, the hosts now give %s (%s). Run deck plan again",
			executor.ErrStalePlan, path, plan.Fingerprint, fp, describeHosts(w))
	}
	for _, rev := range plan.Revisions {
		if strings.HasPrefix(rev.Task.Image, "localhost/deck/") {
			if _, ok := res.Builds[rev.Task.Image]; !ok {
				return w, nil, nil, fmt.Errorf("the build context of service %s changed since plan %s was made (it no longer gives image %s). Run deck plan again",
					rev.Service, path, rev.Task.Image)
			}
		}
		for _, s := range rev.Task.Secrets {
			if _, ok := res.Secrets[executor.SecretName(plan.App, plan.Env, rev.Service, s.Name, s.Digest)]; !ok {
				return w, nil, nil, fmt.Errorf("secret %s of service %s changed since plan %s was made. Run deck plan again", s.Name, rev.Service, path)
			}
		}
	}
	return w, plan, res, nil
}

// describeHosts says in a few words what the hosts look like now.
func describeHosts(w *world) string {
	reach, running := 0, 0
	for _, h := range w.obs.Hosts {
		if h.Reachable {
			reach++
		}
		for _, t := range h.Tasks {
			if t.Running() {
				running++
			}
		}
	}
	return fmt.Sprintf("%d of %d hosts reachable, %d tasks running", reach, len(w.obs.Hosts), running)
}
