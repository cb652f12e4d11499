package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers/lock"
)

// TaskStopOptions are deck task stop's inputs.
type TaskStopOptions struct {
	Deps    Deps
	Globals *Globals
	IDs     []string
}

// StoppedJSON is one task deck task stop or deck job stop stopped (-o json: a list).
type StoppedJSON struct {
	Job       string `json:"job,omitempty"`
	Run       string `json:"run,omitempty"`
	Attempt   int    `json:"attempt,omitempty"`
	Host      string `json:"host"`
	TaskID    string `json:"task_id"`
	Container string `json:"container"`
	Detail    string `json:"detail,omitempty"`
}

// NewCmdTaskStop builds `deck task stop ID...`.
func NewCmdTaskStop(deps Deps, g *Globals, runF func(*TaskStopOptions) error) *cobra.Command {
	opts := &TaskStopOptions{Deps: deps, Globals: g}
	return &cobra.Command{
		Use:   "stop ID...",
		Short: "Stop standalone tasks (ECS's StopTask)",
		Long: `Stop the standalone tasks (deck task run, with --detach or from another terminal) whose ids
start with the IDs given: each gets SIGTERM, then SIGKILL after its stop timeout. An ID that
matches no task, or several, is refused and nothing is stopped. A task that has ended already
is left as it is. The stopped containers stay for deck logs --task ID and are removed an hour
after they end. A job's runs are stopped with deck job stop. No deploy lock is taken.`,
		Example: `  deck task run worker --command "/app reindex" --detach
  deck task stop 3f2a9c01`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IDs = args
			if runF != nil {
				return runF(opts)
			}
			return runTaskStop(cmd.Context(), opts)
		},
	}
}

func runTaskStop(ctx context.Context, o *TaskStopOptions) error {
	deps, g := o.Deps, o.Globals
	s, err := connect(ctx, deps, g)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.List(ctx); err != nil {
		return err
	}
	stopped, err := s.StopTasks(ctx, o.IDs)
	out := make([]StoppedJSON, 0, len(stopped))
	for _, t := range stopped {
		fmt.Fprintf(deps.IO.ErrOut, "Stopped task %s on %s\n", t.TaskID, t.Host)
		out = append(out, StoppedJSON{Host: t.Host, TaskID: t.TaskID, Container: t.ContainerID})
	}
	if err == nil && len(stopped) == 0 {
		fmt.Fprintln(deps.IO.ErrOut, "Nothing to stop: the tasks have ended already.")
	}
	if g.Output == "json" {
		if jerr := writeJSON(deps, out); jerr != nil {
			return jerr
		}
	}
	return err
}

// JobStopOptions are deck job stop's inputs.
type JobStopOptions struct {
	Deps    Deps
	Globals *Globals
	Job     string
	Run     string
	Lock    LockFlags
}

// NewCmdJobStop builds `deck job stop JOB [--run RUN]`.
func NewCmdJobStop(deps Deps, g *Globals, runF func(*JobStopOptions) error) *cobra.Command {
	opts := &JobStopOptions{Deps: deps, Globals: g}
	cmd := &cobra.Command{
		Use:   "stop JOB [--run RUN]",
		Short: "Stop a Scheduled Job's runs that are going, without retrying them",
		Long: `Stop the runs of JOB that are going, or only RUN (the RUN of deck job history): each running
attempt gets SIGTERM, then SIGKILL after the job's stop timeout, and none is tried again,
whatever retries the job has; a run waiting for its retry is not retried. deck job history
says who stopped it and when. The job's schedule goes on: its next run starts when it is due.
It takes the environment's deploy lock for the moment it records and stops the runs (deck
controller starts retries under the same lock).`,
		Example: `  deck job stop nightly
  deck job stop nightly --run 20240501-0300`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Job = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runJobStop(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Run, "run", "", "stop only this run (its id, from deck job history)")
	opts.Lock.addFlags(cmd)
	return cmd
}

func runJobStop(ctx context.Context, o *JobStopOptions) error {
	deps, g := o.Deps, o.Globals
	if err := o.Lock.check(); err != nil {
		return err
	}
	s, err := connect(ctx, deps, g)
	if err != nil {
		return err
	}
	defer s.Close()
	lease, err := o.Lock.taker(deps, "job stop "+o.Job)(ctx, s)
	if err != nil {
		return err
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
	if err := s.List(ctx); err != nil {
		return err
	}
	job, err := pipeline.FindJob(ctx, s, o.Job)
	if err != nil {
		return err
	}
	me := lock.Me("", "")
	acts, err := s.StopJob(ctx, job, o.Run, me.User+"@"+me.Machine, time.Now(),
		pipeline.JobOptions{Epoch: lease.Epoch(), Fence: lease.Check})
	out := make([]StoppedJSON, 0, len(acts))
	for _, a := range acts {
		if a.Err == nil {
			fmt.Fprintf(deps.IO.ErrOut, "Stopped run %s of job %s (attempt %d, task %s on %s): %s\n", a.Run, o.Job, a.Attempt, a.TaskID, a.Host, a.Detail)
		}
		out = append(out, StoppedJSON{Job: o.Job, Run: a.Run, Attempt: a.Attempt, Host: a.Host, TaskID: a.TaskID,
			Container: a.Container, Detail: a.Detail})
	}
	if g.Output == "json" && len(acts) > 0 {
		if jerr := writeJSON(deps, out); jerr != nil {
			return jerr
		}
	}
	return err
}
