package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/pipeline"
)

// LogsOptions are deck logs's inputs.
type LogsOptions struct {
	Deps     Deps
	Globals  *Globals
	Service  string
	Task     string
	Run      string
	Since    string
	Tail     int
	Follow   bool
	Previous bool
	now      func() time.Time
}

// NewCmdLogs builds `deck logs`.
func NewCmdLogs(deps Deps, g *Globals, runF func(*LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{Deps: deps, Globals: g, now: time.Now}
	cmd := &cobra.Command{
		Use:   "logs [SERVICE] [--task ID | --run RUN]",
		Short: "Print the lines of a service's tasks on every host, merged in time order",
		Long: `Print what the running tasks of SERVICE wrote (stdout and stderr), on every reachable host,
merged in time order, each line after its task id and host (in a colour per task on a terminal).
--task reads one task (any state; the start of its id is enough), --run the attempts of a
Scheduled Job's run (the RUN of deck job history). --previous reads the tasks that no longer
run but are still on the hosts (stopped, failed) and those of revisions older than the
service's newest one.

--follow keeps going: tasks that start join, a task that stops leaves with a line saying why,
and a host that stops answering is dialled again and its tasks' lines go on where they broke
off, none lost or repeated. Podman 4.3 stamps lines to the second: lines of different hosts
within one second come in the order they arrive (a followed line waits 300ms for earlier ones).

--output json prints one object per line: {time, task, host, service, revision, stream, line};
a task that stops or is removed gives {time, task, host, service, revision, event, reason}.`,
		Example: `  deck logs web --tail 20
  deck logs web --follow --since 10m
  deck logs --task 3f2a9c01
  deck logs nightly --run 20240501-0300 --previous`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Service = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return runLogs(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Task, "task", "", "read only this task (its id, or the start of it)")
	f.StringVar(&opts.Run, "run", "", "read the attempts of this job run (as deck job history names it)")
	f.StringVar(&opts.Since, "since", "", "only lines written since then: a duration back from now (10m) or an RFC 3339 time")
	f.IntVar(&opts.Tail, "tail", -1, "only the last N lines of each task (-1: all)")
	f.BoolVar(&opts.Follow, "follow", false, "keep printing new lines, across task replacements and host reconnects")
	f.BoolVar(&opts.Previous, "previous", false, "read the stopped tasks and those of older revisions instead of the running ones")
	return cmd
}

// request checks the flags and turns them into the pipeline's request.
func (o *LogsOptions) request() (pipeline.LogsRequest, error) {
	req := pipeline.LogsRequest{Service: o.Service, Task: o.Task, Run: o.Run, Tail: o.Tail,
		Follow: o.Follow, Previous: o.Previous}
	req.ToNow = !o.Follow // what was written by now: a fast writer does not keep deck reading
	switch {
	case o.Service == "" && o.Task == "" && o.Run == "":
		return req, flagErrorf("name a SERVICE, or a task with --task, or a job run with --run")
	case o.Task != "" && o.Run != "":
		return req, flagErrorf("--task and --run: name one, not both")
	case o.Tail < -1:
		return req, flagErrorf("--tail %d: want a number of lines, or -1 for all", o.Tail)
	}
	if o.Since != "" {
		if d, err := time.ParseDuration(o.Since); err == nil && d > 0 {
			req.Since = o.now().Add(-d)
		} else if t, err := time.Parse(time.RFC3339Nano, o.Since); err == nil {
			req.Since = t
		} else {
			return req, flagErrorf("--since %q: want a duration back from now (10m, 1h30m) or an RFC 3339 time (2024-05-01T12:00:00Z)", o.Since)
		}
	}
	return req, nil
}

func runLogs(ctx context.Context, o *LogsOptions) error {
	deps := o.Deps
	req, err := o.request()
	if err != nil {
		return err
	}
	s, err := connect(ctx, deps, o.Globals)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, h := range s.Obs.Hosts {
		if !h.Reachable {
			fmt.Fprintf(deps.IO.ErrOut, "Warning: host %s does not answer (%v); its tasks' lines are missing.\n", h.Spec.Name, h.Err)
		}
	}
	printLine := logPrinter(deps, o.Globals.Output == "json")
	note := func(msg string) { fmt.Fprintln(deps.IO.ErrOut, msg) }
	return s.Logs(ctx, req, printLine, note)
}

// logLineJSON is one line of --output json.
type logLineJSON struct {
	Time     time.Time `json:"time"`
	Task     string    `json:"task"`
	Host     string    `json:"host"`
	Service  string    `json:"service"`
	Revision string    `json:"revision"`
	Stream   string    `json:"stream,omitempty"`
	Line     *string   `json:"line,omitempty"`
	Event    string    `json:"event,omitempty"`
	Reason   string    `json:"reason,omitempty"`
}

// taskColors are the colours of the task prefixes on a terminal (red is for failures).
var taskColors = []string{"36", "33", "35", "32", "34", "96", "93", "95", "92", "94"}

// logPrinter prints each line: as JSON, or after "TASK HOST |", coloured per task on a
// terminal; a task's end is a line of its own, in grey.
func logPrinter(deps Deps, asJSON bool) func(pipeline.TaskLine) {
	out := deps.IO.Out
	if asJSON {
		enc := json.NewEncoder(out)
		return func(l pipeline.TaskLine) {
			j := logLineJSON{Time: l.Time.UTC(), Task: l.Task, Host: l.Host, Service: l.Service, Revision: l.Revision, Stream: l.Stream}
			if l.Event != "" {
				j.Event, j.Reason = l.Event, l.Line
			} else {
				j.Line = &l.Line
			}
			_ = enc.Encode(j)
		}
	}
	c := colors(deps)
	colorOf := map[string]string{} // by task, in the order they first print
	return func(l pipeline.TaskLine) {
		prefix := l.Task + " " + l.Host + " |"
		if c.Enabled {
			code, ok := colorOf[l.Task]
			if !ok {
				code = taskColors[len(colorOf)%len(taskColors)]
				colorOf[l.Task] = code
			}
			prefix = "\x1b[" + code + "m" + prefix + "\x1b[0m"
		}
		if l.Event != "" {
			fmt.Fprintf(out, "%s %s\n", prefix, c.Gray("-- "+l.Event+": "+l.Line))
			return
		}
		fmt.Fprintf(out, "%s %s\n", prefix, l.Line)
	}
}
