package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/pipeline"
)

// EventsOptions are deck events' inputs.
type EventsOptions struct {
	Deps    Deps
	Globals *Globals
	Follow  bool
	Since   string
	Service string
	// Poll is how often --follow reads the log again.
	Poll time.Duration
	now  func() time.Time
}

// NewCmdEvents builds `deck events`.
func NewCmdEvents(deps Deps, g *Globals, runF func(*EventsOptions) error) *cobra.Command {
	opts := &EventsOptions{Deps: deps, Globals: g, Poll: 2 * time.Second, now: time.Now}
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show what happened in the environment, newest last",
		Long: `Show the environment's event log, oldest first: deployments started, completed, failed or
rolled back; tasks started, healthy, failed and stopped, with why; tasks whose containers died
under the controller; its back-off; scaling actions; hosts lost and back; the deploy lock taken
and broken. One sentence each, as ECS says them ("(service web) has started 1 tasks: ...").

The log is kept on the environment's hosts (the newest 500 events), so every machine reads the
same one. Times are the clock of the machine that wrote each event.

--output json prints one object per line: {time, kind, service, task, host, message}.`,
		Example: `  deck events --since 10m
  deck events --service web --follow
  deck events -o json | jq 'select(.kind == "task-stopped")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runEvents(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Follow, "follow", false, "keep printing new events as they are recorded")
	cmd.Flags().StringVar(&opts.Since, "since", "", "only events after this: a duration back from now (10m, 2h) or an RFC 3339 time")
	cmd.Flags().StringVar(&opts.Service, "service", "", "only the events of this service")
	return cmd
}

// parseSince reads --since: a duration back from now, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, flagErrorf("--since %s: want a positive duration", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, flagErrorf("--since %q: want a duration (10m) or an RFC 3339 time (2024-05-01T10:00:00Z)", s)
}

func runEvents(ctx context.Context, opts *EventsOptions) error {
	deps, g := opts.Deps, opts.Globals
	since, err := parseSince(opts.Since, opts.now())
	if err != nil {
		return err
	}
	s, err := connect(ctx, deps, g)
	if err != nil {
		return err
	}
	defer s.Close()
	after := since // --since: strictly after it
	enc := json.NewEncoder(deps.IO.Out)
	// printed are the events at the newest time printed: the next read asks from that time
	// on (events of one instant may come in two batches), and skips these.
	printed := map[pipeline.LogEvent]bool{}
	for first := true; ; first = false {
		evs, err := pipeline.ReadEventLog(ctx, s, since.Add(-time.Nanosecond))
		if err != nil {
			if first || ctx.Err() != nil {
				return err
			}
			fmt.Fprintf(deps.IO.ErrOut, "Warning: reading the event log: %v\n", err)
		}
		for _, e := range evs {
			if printed[e] || (opts.Service != "" && e.Service != opts.Service) || (!after.IsZero() && !e.Time.After(after)) {
				continue
			}
			if e.Time.After(since) {
				since = e.Time
				clear(printed)
			}
			printed[e] = true
			if g.Output == "json" {
				if err := enc.Encode(e); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(deps.IO.Out, "%s  %s\n", e.Time.Local().Format("2006-01-02 15:04:05.000"), e.Message)
		}
		if !opts.Follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(opts.Poll):
		}
	}
}
