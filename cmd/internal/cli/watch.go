package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers"
)

// exitInterrupted is the exit status after Ctrl-C, as a shell gives it.
const exitInterrupted = 130

// TaskLineJSON is one line of deck task run and deck job run --wait with -o json: a task
// started (event "started"), a line of its output (line), or its end (event "ended", with
// exit_code and, when it failed, reason).
type TaskLineJSON struct {
	Event     string  `json:"event,omitempty"`
	Task      string  `json:"task"`
	Host      string  `json:"host"`
	Container string  `json:"container,omitempty"`
	Job       string  `json:"job,omitempty"`
	Run       string  `json:"run,omitempty"`
	Line      *string `json:"line,omitempty"`
	ExitCode  *int    `json:"exit_code,omitempty"`
	Reason    string  `json:"reason,omitempty"`
}

// watchTasks streams the tasks' output to stdout (each line after its task id when there
// are several; with -o json, one TaskLineJSON a line) until they end, prints the stop
// reason of each that failed, and returns the exit status to end with: the first task's
// non-zero exit code, in task order. owned tasks (standalone ones) are removed once their
// exit code is read, and stopped and removed on Ctrl-C; the others (a job's runs, which are
// its history) are left as they are.
func watchTasks(ctx context.Context, deps Deps, g *Globals, s *pipeline.Session, tasks []pipeline.RunningTask, owned bool) int {
	var mu sync.Mutex
	prefix := len(tasks) > 1
	asJSON := g.Output == "json"
	enc := json.NewEncoder(deps.IO.Out)
	ended := make([]providers.Task, len(tasks))
	errs := make([]error, len(tasks))
	var wg sync.WaitGroup
	for i, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ferr := s.FollowTask(ctx, t, func(line string) {
				mu.Lock()
				defer mu.Unlock()
				if asJSON {
					_ = enc.Encode(TaskLineJSON{Task: t.TaskID, Host: t.Host, Line: &line})
					return
				}
				if prefix {
					line = t.TaskID + " | " + line
				}
				fmt.Fprintln(deps.IO.Out, line)
			})
			if ferr != nil && ctx.Err() == nil {
				mu.Lock()
				fmt.Fprintf(deps.IO.ErrOut, "Warning: the output of task %s was cut off: %v\n", t.TaskID, ferr)
				mu.Unlock()
			}
			ended[i], errs[i] = s.WaitTask(ctx, t, 0)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return interrupted(deps, s, tasks, owned)
	}
	code := 0
	for i, t := range tasks {
		reason, exit := pipeline.StopReason(ended[i]), ended[i].ExitCode
		if errs[i] != nil {
			reason, exit = "deck could not read how it ended: "+errs[i].Error(), 1
		}
		if reason != "" {
			fmt.Fprintf(deps.IO.ErrOut, "Task %s on %s: %s\n", t.TaskID, t.Host, reason)
			if exit == 0 {
				exit = 1
			}
		}
		if asJSON {
			_ = enc.Encode(TaskLineJSON{Event: "ended", Task: t.TaskID, Host: t.Host, ExitCode: &exit, Reason: reason})
		}
		if code == 0 {
			code = exit
		}
		if owned {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			if err := s.RemoveTask(rctx, t, 0); err != nil {
				fmt.Fprintf(deps.IO.ErrOut, "Warning: task %s was not removed: %v\n", t.TaskID, err)
			}
			cancel()
		}
	}
	return code
}

// interrupted stops and removes owned tasks after Ctrl-C; other tasks go on.
func interrupted(deps Deps, s *pipeline.Session, tasks []pipeline.RunningTask, owned bool) int {
	if !owned {
		fmt.Fprintln(deps.IO.ErrOut, "Interrupted; the run goes on (deck job history shows how it ends).")
		return exitInterrupted
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, t := range tasks {
		if err := s.RemoveTask(ctx, t, 10*time.Second); err != nil {
			fmt.Fprintf(deps.IO.ErrOut, "Interrupted; task %s could not be stopped: %v\n", t.TaskID, err)
			continue
		}
		fmt.Fprintf(deps.IO.ErrOut, "Interrupted; task %s was stopped and removed.\n", t.TaskID)
	}
	return exitInterrupted
}
