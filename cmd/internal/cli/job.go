package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers/leader"
)

// NewCmdJob builds `deck job`.
func NewCmdJob(deps Deps, g *Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "job", Short: "Run a Scheduled Job now, stop its runs, or see how they went"}
	cmd.AddCommand(NewCmdJobRun(deps, g, nil), NewCmdJobStop(deps, g, nil), NewCmdJobHistory(deps, g, nil))
	return cmd
}

// JobRunOptions are deck job run's inputs.
type JobRunOptions struct {
	Deps    Deps
	Globals *Globals
	Job     string
	Wait    bool
	Force   bool
	Lock    LockFlags
}

// NewCmdJobRun builds `deck job run JOB`.
func NewCmdJobRun(deps Deps, g *Globals, runF func(*JobRunOptions) error) *cobra.Command {
	opts := &JobRunOptions{Deps: deps, Globals: g}
	cmd := &cobra.Command{
		Use:   "run JOB",
		Short: "Start a run of a Scheduled Job now",
		Long: `Start one run of JOB at once, from its last completed deploy, on a host that placement picks,
and print the run's id. Like a run the schedule starts, it counts for the schedule (@every counts
from the last run's start), deck controller retries it when it fails and the job has retries,
and it stays in deck job history. It is refused while the job already has as many runs going as
its concurrency allows (default 1), unless --force. It takes the environment's deploy lock for
the moment it starts the run. --wait follows the run's output to its end and exits with its exit
code; a failed attempt of a job with retries is followed by the retry deck controller starts
(while a controller leads the environment, waiting up to 30s for it to appear). Ctrl-C then
stops following, not the run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Job = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runJobRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Wait, "wait", false, "follow the run to its end and exit with its exit code")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "start it even when the job already runs as many runs as its concurrency")
	opts.Lock.addFlags(cmd)
	return cmd
}

func runJobRun(ctx context.Context, o *JobRunOptions) error {
	deps, g := o.Deps, o.Globals
	if err := o.Lock.check(); err != nil {
		return err
	}
	s, err := connect(ctx, deps, g)
	if err != nil {
		return err
	}
	defer s.Close()
	a, retries, err := startJobRun(ctx, o, s)
	if err != nil {
		printFailures(deps, err)
		return err
	}
	fmt.Fprintf(deps.IO.ErrOut, "Started run %s of job %s on %s (task %s, %s)\n", a.Run, o.Job, a.Host, a.TaskID, a.Detail)
	switch {
	case g.Output == "json" && !o.Wait:
		if err := writeJSON(deps, JobRunJSON{Job: o.Job, Run: a.Run, Attempt: a.Attempt, Trigger: a.Trigger,
			Host: a.Host, TaskID: a.TaskID, Container: a.Container, Detail: a.Detail}); err != nil {
			return err
		}
	case g.Output == "json":
		_ = json.NewEncoder(deps.IO.Out).Encode(TaskLineJSON{Event: "started", Task: a.TaskID, Host: a.Host,
			Container: a.Container, Job: o.Job, Run: a.Run})
	default:
		fmt.Fprintln(deps.IO.Out, a.Run)
	}
	if !o.Wait {
		return nil
	}
	return followRun(ctx, o, s, a, retries)
}

// retryAppears bounds how long --wait waits for the controller to start a failed run's
// next attempt: it looks once a second.
const retryAppears = 30 * time.Second

// followRun follows a run's attempts to its end: a failed attempt of a job with retries
// left is followed by the next one, which deck controller starts. It returns the last
// attempt's exit code as an ExitError.
func followRun(ctx context.Context, o *JobRunOptions, s *pipeline.Session, a pipeline.JobAction, retries int) error {
	deps, g := o.Deps, o.Globals
	t := pipeline.RunningTask{Host: a.Host, TaskID: a.TaskID, ContainerID: a.Container}
	for attempt := a.Attempt; ; attempt++ {
		code := watchTasks(ctx, deps, g, s, []pipeline.RunningTask{t}, false)
		if code == 0 || ctx.Err() != nil || attempt > retries {
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		}
		if !controllerLeads(ctx, s) {
			left := "1 retry"
			if retries != 1 {
				left = fmt.Sprintf("%d retries", retries)
			}
			fmt.Fprintf(deps.IO.ErrOut, "Attempt %d of run %s failed (exit code %d). The job has %s, which deck controller starts, but no controller leads environment %s now.\n",
				attempt, a.Run, code, left, s.T.Env.Name)
			return &ExitError{Code: code}
		}
		next, ok, err := waitAttempt(ctx, s, o.Job, a.Run, attempt+1)
		if err != nil {
			return errors.Join(&ExitError{Code: code}, err)
		}
		if !ok {
			fmt.Fprintf(deps.IO.ErrOut, "Attempt %d of run %s failed (exit code %d), and the job has %d retries, but deck controller started no retry within %s: is it running?\n",
				attempt, a.Run, code, retries, retryAppears)
			return &ExitError{Code: code}
		}
		fmt.Fprintf(deps.IO.ErrOut, "Attempt %d of run %s failed (exit code %d); following attempt %d on %s (task %s)\n",
			attempt, a.Run, code, attempt+1, next.Host, next.TaskID)
		t = next
	}
}

// controllerLeads says whether a deck controller leads the environment now: only it
// starts retries. When that cannot be read, it is taken to lead, and deck waits.
func controllerLeads(ctx context.Context, s *pipeline.Session) bool {
	e, err := leader.New(s.T.Env.Controller, pipeline.DialRecords(s.T), s.T.App.Name, s.T.Env.Name, leader.Options{})
	if err != nil {
		return true
	}
	defer func() { _ = e.Close() }()
	_, ok, err := e.Leader(ctx)
	return ok || err != nil
}

// waitAttempt waits up to retryAppears for attempt of the run to appear on the hosts.
func waitAttempt(ctx context.Context, s *pipeline.Session, job, run string, attempt int) (pipeline.RunningTask, bool, error) {
	deadline := time.Now().Add(retryAppears)
	for {
		if err := s.List(ctx); err != nil {
			return pipeline.RunningTask{}, false, err
		}
		if t, ok := s.RunAttempt(job, run, attempt); ok {
			return t, true, nil
		}
		if !time.Now().Before(deadline) || !pipeline.Pause(ctx, time.Second) {
			return pipeline.RunningTask{}, false, ctx.Err()
		}
	}
}

// JobRunJSON is deck job run's -o json (without --wait): the run started.
type JobRunJSON struct {
	Job       string `json:"job"`
	Run       string `json:"run"`
	Attempt   int    `json:"attempt"`
	Trigger   string `json:"trigger"`
	Host      string `json:"host"`
	TaskID    string `json:"task_id"`
	Container string `json:"container"`
	Detail    string `json:"detail"`
}

// startJobRun takes the deploy lock, reads the hosts again under it, and starts the run:
// the controller starts runs under the same lock, so the concurrency rule holds. It
// returns the job's retries too, for --wait.
func startJobRun(ctx context.Context, o *JobRunOptions, s *pipeline.Session) (pipeline.JobAction, int, error) {
	lease, err := o.Lock.taker(o.Deps, "job run "+o.Job)(ctx, s)
	if err != nil {
		return pipeline.JobAction{}, 0, err
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
	if err := s.List(ctx); err != nil {
		return pipeline.JobAction{}, 0, err
	}
	cleanTasks(ctx, o.Deps, s)
	job, err := pipeline.FindJob(ctx, s, o.Job)
	if err != nil {
		return pipeline.JobAction{}, 0, err
	}
	a, err := s.StartJob(ctx, job, time.Now(), pipeline.JobOptions{Epoch: lease.Epoch(), Fence: lease.Check}, o.Force)
	return a, job.Desired.Retries, err
}

// JobHistoryOptions are deck job history's inputs.
type JobHistoryOptions struct {
	Deps    Deps
	Globals *Globals
	Job     string
}

// JobHistoryReport is what deck job history shows; the table and the JSON come from it.
type JobHistoryReport struct {
	App  string            `json:"app"`
	Env  string            `json:"environment"`
	Job  string            `json:"job"`
	Runs []pipeline.JobRun `json:"runs"`
	// Unreachable are the hosts that did not answer: the runs they hold are left out.
	Unreachable []string `json:"unreachable_hosts,omitempty"`
}

// NewCmdJobHistory builds `deck job history JOB`.
func NewCmdJobHistory(deps Deps, g *Globals, runF func(*JobHistoryOptions) error) *cobra.Command {
	opts := &JobHistoryOptions{Deps: deps, Globals: g}
	return &cobra.Command{
		Use:   "history JOB",
		Short: "List a Scheduled Job's runs: when, how long, exit code and why they ended",
		Long: `List the runs of JOB kept on the hosts (its newest 10 finished runs, and those going on),
newest first, one line per attempt: the run id, attempt, what started it (schedule, manual,
retry), the host, when it started, how long it ran, its exit code and why it ended so.

--output json prints {app, environment, job, runs, unreachable_hosts}: each run {job, run, attempt, trigger, host,
task_id, container_id, revision, state, started, finished, duration (ns), exit_code, reason}.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Job = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runJobHistory(cmd.Context(), opts)
		},
	}
}

func runJobHistory(ctx context.Context, o *JobHistoryOptions) error {
	deps, g := o.Deps, o.Globals
	s, err := connect(ctx, deps, g)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.List(ctx); err != nil {
		return err
	}
	r := JobHistoryReport{App: s.T.App.Name, Env: s.T.Env.Name, Job: o.Job, Runs: s.JobHistory(ctx, o.Job)}
	for _, h := range s.Obs.Hosts {
		if !h.Reachable {
			r.Unreachable = append(r.Unreachable, h.Spec.Name)
			fmt.Fprintf(deps.IO.ErrOut, "Host %s is unreachable; the runs it holds are left out: %v\n", h.Spec.Name, h.Err)
		}
	}
	if r.Runs == nil {
		if _, err := pipeline.FindJob(ctx, s, o.Job); err != nil {
			return err
		}
		r.Runs = []pipeline.JobRun{}
	}
	if g.Output == "json" {
		return writeJSON(deps, r)
	}
	if len(r.Runs) == 0 {
		fmt.Fprintf(deps.IO.ErrOut, "Job %s has not run yet.\n", o.Job)
		return nil
	}
	printJobRuns(deps, r.Runs)
	return nil
}

func printJobRuns(deps Deps, runs []pipeline.JobRun) {
	c := colors(deps)
	tw := tabwriter.NewWriter(deps.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tATTEMPT\tTRIGGER\tHOST\tSTARTED\tDURATION\tEXIT\tREASON")
	for _, r := range runs {
		dur, exit := "running", "-"
		if r.State == "created" && r.Reason != "" {
			dur = "never ran" // it failed to start: REASON says why
		}
		if !r.Finished.IsZero() {
			dur, exit = r.Duration.Round(time.Millisecond).String(), fmt.Sprint(r.ExitCode)
			if r.ExitCode == 0 && r.Reason == "" {
				exit = c.Green(exit)
			} else {
				exit = c.Red(exit)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Run, r.Attempt, orDash(r.Trigger), r.Host,
			r.Started.UTC().Format("2006-01-02 15:04:05 UTC"), dur, exit, orDash(r.Reason))
	}
	tw.Flush()
}
