package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
)

// TaskRunOptions are deck task run's inputs.
type TaskRunOptions struct {
	Deps    Deps
	Globals *Globals
	Service string
	Image   string
	Command string
	Env     []string
	Count   int
	Detach  bool
}

// NewCmdTask builds `deck task`.
func NewCmdTask(deps Deps, g *Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "task", Short: "Run standalone tasks: containers that run to completion"}
	cmd.AddCommand(NewCmdTaskRun(deps, g, nil), NewCmdTaskStop(deps, g, nil))
	return cmd
}

// NewCmdTaskRun builds `deck task run`.
func NewCmdTaskRun(deps Deps, g *Globals, runF func(*TaskRunOptions) error) *cobra.Command {
	opts := &TaskRunOptions{Deps: deps, Globals: g}
	cmd := &cobra.Command{
		Use:   "run [SERVICE] [--image IMAGE]",
		Short: "Run a task to completion: a service's task definition, or an image",
		Long: `Run a standalone task (ECS's RunTask) on a host that placement picks, stream its output, and
exit with its exit code; on failure the stop reason is printed (exit code, OOM kill, failed to
start). SERVICE runs the task definition of the service's last completed deploy (its image,
command, variables and secrets); --image runs a plain image with 256 cpu units and 512 MiB.
--command replaces the command, --env-vars adds or replaces variables (--env names the
environment, as for every command), --count runs several (their
lines are prefixed with the task id). The task's container is removed once its exit code is
read; Ctrl-C stops and removes it. With --detach deck prints the task ids and returns: the
ended tasks are removed an hour after they end, by the next deck task or deck job command or
by deck controller. No deploy lock is taken: the tasks are nobody's count.`,
		Example: `  deck task run web --command "/app migrate"
  deck task run --image busybox:1 --command "sh -c 'exit 3'"
  deck task run worker --env-vars BATCH=5 --count 3 --detach
  deck task run web --env prod --command "/app migrate" --env-vars DRY_RUN=1`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Service = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return runTaskRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Image, "image", "", "run this image instead of a service's task definition")
	f.StringVar(&opts.Command, "command", "", "the command, as one string split like a shell's words (replaces the task definition's)")
	f.StringArrayVar(&opts.Env, "env-vars", nil, "a variable, `NAME=VALUE` (repeat for more; Copilot's flag name)")
	f.IntVar(&opts.Count, "count", 1, "how many tasks to run")
	f.BoolVar(&opts.Detach, "detach", false, "print the task ids and return without waiting")
	return cmd
}

// request checks the flags and turns them into the pipeline's request.
func (o *TaskRunOptions) request() (pipeline.TaskRequest, error) {
	req := pipeline.TaskRequest{Service: o.Service, Image: o.Image, Count: o.Count}
	switch {
	case (o.Service == "") == (o.Image == ""):
		return req, flagErrorf("name a SERVICE whose task definition to run, or --image, and not both")
	case o.Count < 1 || o.Count > 100:
		return req, flagErrorf("--count %d: want 1 to 100 tasks", o.Count)
	}
	if o.Command != "" {
		words, err := manifest.SplitWords(o.Command)
		if err != nil || len(words) == 0 {
			return req, flagErrorf("--command %q cannot be split into words: %v", o.Command, err)
		}
		req.Command = words
	}
	for _, kv := range o.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return req, flagErrorf("--env-vars %q: want NAME=VALUE", kv)
		}
		if req.Env == nil {
			req.Env = map[string]string{}
		}
		req.Env[k] = v
	}
	return req, nil
}

func runTaskRun(ctx context.Context, o *TaskRunOptions) error {
	deps, g := o.Deps, o.Globals
	req, err := o.request()
	if err != nil {
		return err
	}
	s, err := connect(ctx, deps, g)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.List(ctx); err != nil {
		return err
	}
	cleanTasks(ctx, deps, s)
	tasks, err := s.RunTask(ctx, req)
	if err != nil {
		printFailures(deps, err)
		if len(tasks) == 0 {
			return err
		}
	}
	for _, t := range tasks {
		fmt.Fprintf(deps.IO.ErrOut, "Started task %s on %s (container %s)\n", t.TaskID, t.Host, t.Name)
	}
	if o.Detach && g.Output == "json" {
		return writeDetached(deps, tasks, err)
	}
	if o.Detach {
		for _, t := range tasks {
			fmt.Fprintln(deps.IO.Out, t.TaskID)
		}
		return err
	}
	if g.Output == "json" {
		enc := json.NewEncoder(deps.IO.Out)
		for _, t := range tasks {
			_ = enc.Encode(TaskLineJSON{Event: "started", Task: t.TaskID, Host: t.Host, Container: t.Name})
		}
		if err != nil { // some tasks did not start: said in a line, as the others' are
			e := newErrorJSON(err, 1)
			_ = enc.Encode(errorDoc{Error: e})
			err = &ExitError{Code: 1}
		}
	}
	code := watchTasks(ctx, deps, g, s, tasks, true)
	if err != nil && code == 0 {
		code = 1 // a task did not even start
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

// DetachedJSON is deck task run --detach's -o json: the tasks started, and the error when
// some could not be.
type DetachedJSON struct {
	Tasks []StartedTaskJSON `json:"tasks"`
	Error *ErrorJSON        `json:"error,omitempty"`
}

// StartedTaskJSON is a task deck task run started.
type StartedTaskJSON struct {
	TaskID    string `json:"task_id"`
	Host      string `json:"host"`
	Container string `json:"container"`
}

func writeDetached(deps Deps, tasks []pipeline.RunningTask, err error) error {
	doc := DetachedJSON{Tasks: []StartedTaskJSON{}}
	for _, t := range tasks {
		doc.Tasks = append(doc.Tasks, StartedTaskJSON{TaskID: t.TaskID, Host: t.Host, Container: t.Name})
	}
	if err != nil {
		doc.Error = newErrorJSON(err, 1)
	}
	if werr := writeJSON(deps, doc); werr != nil {
		return werr
	}
	if err != nil {
		return &ExitError{Code: 1}
	}
	return nil
}

// cleanTasks removes the standalone tasks that ended over an hour ago (those run with
// --detach): best effort, a failure only warns.
func cleanTasks(ctx context.Context, deps Deps, s *pipeline.Session) {
	if _, err := s.CleanTasks(ctx, time.Now(), pipeline.DefaultTaskRetention, nil); err != nil {
		fmt.Fprintf(deps.IO.ErrOut, "Warning: ended tasks could not all be removed: %v\n", err)
	}
}
