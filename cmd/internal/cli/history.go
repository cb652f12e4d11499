package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers/history"
	"github.com/deckhq/deck/providers/lock"
)

// HistoryOptions are deck history's inputs.
type HistoryOptions struct {
	Deps    Deps
	Globals *Globals
	Service string // "": every service, with the audit trail
}

// NewCmdHistory builds `deck history [SERVICE]`.
func NewCmdHistory(deps Deps, g *Globals, runF func(*HistoryOptions) error) *cobra.Command {
	opts := &HistoryOptions{Deps: deps, Globals: g}
	return &cobra.Command{
		Use:   "history [SERVICE]",
		Short: "Show the revisions deployed, who deployed them, from where, and how each ended",
		Long: `With SERVICE, list its revisions, newest first: how each deploy ended, when, who ran it and
from where (a CI run's URL, or machine:directory), the commit, the image, and why it ended so.
Without SERVICE, show every service's deploys and rollbacks, how they ended, and the breaks of
the deploy lock, oldest first. The history is kept on the environment's hosts.

--output json prints {app, environment, service, now, revisions, events, unreachable_hosts}:
revisions newest first, each {service, revision, id, kind, rollback_of, outcome, detail,
started, finished, who, where, commit, message, trigger, image, image_id, task}; events (without
SERVICE) oldest first, each {time, kind, service, revision, who, where, text}. Times are RFC 3339,
by the hosts' clock. Fields may be added, never renamed or removed.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Service = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return runHistory(cmd.Context(), opts)
		},
	}
}

// HistoryReport is what deck history shows; the tables and the JSON come from it.
type HistoryReport struct {
	App     string    `json:"app"`
	Env     string    `json:"environment"`
	Service string    `json:"service,omitempty"` // the service asked for
	Now     time.Time `json:"now"`               // a host's clock as it was read
	// Revisions are newest first.
	Revisions []RevisionReport `json:"revisions"`
	// Events are the audit trail, oldest first (without a service).
	Events      []history.Event `json:"events,omitempty"`
	Unreachable []string        `json:"unreachable_hosts,omitempty"`
}

// RevisionReport is one revision of a service.
type RevisionReport struct {
	Service    string           `json:"service"`
	Revision   int              `json:"revision"`
	ID         string           `json:"id"`
	Kind       string           `json:"kind"` // deploy or rollback
	RollbackOf int              `json:"rollback_of,omitempty"`
	Outcome    string           `json:"outcome"` // in progress, completed, rolled back, failed
	Detail     string           `json:"detail,omitempty"`
	Started    time.Time        `json:"started"`
	Finished   *time.Time       `json:"finished,omitempty"`
	Who        string           `json:"who"`
	Where      string           `json:"where"`
	Commit     string           `json:"commit,omitempty"`
	Message    string           `json:"message,omitempty"`
	Trigger    string           `json:"trigger"`
	Image      string           `json:"image"`
	ImageID    string           `json:"image_id,omitempty"`
	Task       manifest.TaskDef `json:"task"`
}

func runHistory(ctx context.Context, o *HistoryOptions) error {
	w, err := loadManifests(o.Deps, o.Globals, false)
	if err != nil {
		return err
	}
	s, err := pipeline.Open(ctx, w.target(o.Deps, o.Globals))
	if err != nil {
		return err
	}
	defer s.Close()
	store, err := historyStore(s)
	if err != nil {
		return err
	}
	r, err := collectHistory(ctx, store, o.Service)
	if err != nil {
		return err
	}
	r.App, r.Env = w.app.Name, w.env.Name
	for _, h := range s.Obs.Hosts {
		if !h.Reachable {
			r.Unreachable = append(r.Unreachable, h.Spec.Name)
			fmt.Fprintf(o.Deps.IO.ErrOut, "Host %s is unreachable; what only it keeps is left out: %v\n", h.Spec.Name, h.Err)
		}
	}
	if o.Service != "" && len(r.Revisions) == 0 {
		nf := &history.NotFoundError{App: r.App, Env: r.Env, Service: o.Service}
		return fmt.Errorf("%w: deck keeps one for each deploy that changes it", nf)
	}
	if o.Globals.Output == "json" {
		return writeJSON(o.Deps, r)
	}
	if o.Service != "" {
		printRevisions(o.Deps, r)
	} else {
		printAudit(o.Deps, r)
	}
	return nil
}

// historyStore is the history of the session's app and environment, on its connected
// hosts.
func historyStore(s *pipeline.Session) (*history.Store, error) {
	var hosts []history.Host
	for _, name := range s.Fleet.Names() {
		if h := s.Fleet.Host(name); h != nil {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		var errs []error
		for _, h := range s.Obs.Hosts {
			errs = append(errs, h.Err)
		}
		return nil, fmt.Errorf("no host of environment %s answered, and the history is kept on them: %w", s.T.Env.Name, errors.Join(errs...))
	}
	return history.New(hosts, s.T.App.Name, s.T.Env.Name, history.WithHostTimeout(s.T.HostTimeout)), nil
}

// recordBreak keeps the lock break just made in the history for good: the lock itself
// forgets it once the next holder releases. A failure is a warning; the break stands.
func recordBreak(ctx context.Context, deps Deps, s *pipeline.Session, l *lock.HostsLocker) {
	last, err := l.LastBreak(ctx)
	if err == nil && last != nil {
		var store *history.Store
		if store, err = historyStore(s); err == nil {
			err = store.RecordBreak(ctx, *last)
		}
	}
	if err != nil {
		fmt.Fprintf(deps.IO.ErrOut, "Warning: the break is not in deck history for good, only until the next deploy: %v\n", err)
	}
}

func collectHistory(ctx context.Context, store *history.Store, service string) (*HistoryReport, error) {
	r := &HistoryReport{Service: service, Revisions: []RevisionReport{}}
	var err error
	if r.Now, err = store.Now(ctx); err != nil {
		return nil, err
	}
	services := []string{service}
	if service == "" {
		if services, err = store.Services(ctx); err != nil {
			return nil, err
		}
		if r.Events, err = store.Audit(ctx); err != nil {
			return nil, err
		}
	}
	for _, name := range services {
		entries, err := store.List(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			r.Revisions = append(r.Revisions, revisionReport(e))
		}
	}
	sortNewestFirst(r.Revisions)
	return r, nil
}

func revisionReport(e history.Entry) RevisionReport {
	r := RevisionReport{Service: e.Service, Revision: e.Number, ID: e.ID, Kind: e.Kind, RollbackOf: e.RollbackOf,
		Outcome: string(e.Outcome), Detail: e.Detail, Started: e.Started, Who: e.Who, Where: e.Where,
		Commit: e.Commit, Message: e.Message, Trigger: e.Trigger, Image: e.Task.Image, ImageID: e.ImageID, Task: e.Task}
	if !e.Finished.IsZero() {
		f := e.Finished
		r.Finished = &f
	}
	return r
}

func sortNewestFirst(revs []RevisionReport) {
	sort.SliceStable(revs, func(i, j int) bool {
		a, b := revs[i], revs[j]
		if !a.Started.Equal(b.Started) {
			return a.Started.After(b.Started)
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Revision > b.Revision
	})
}

func printRevisions(deps Deps, r *HistoryReport) {
	c := colors(deps)
	tw := tabwriter.NewWriter(deps.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REVISION\tOUTCOME\tWHEN\tWHO\tFROM\tCOMMIT\tIMAGE\tDETAIL")
	for _, v := range r.Revisions {
		outcome := v.Outcome
		switch history.Outcome(v.Outcome) {
		case history.Completed:
			outcome = c.Green(outcome)
		case history.Failed:
			outcome = c.Red(outcome)
		default:
			outcome = c.Yellow(outcome)
		}
		detail := v.Detail
		if v.Kind == history.KindRollback {
			detail = strings.TrimSuffix(fmt.Sprintf("rollback to %d; %s", v.RollbackOf, detail), "; ")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Revision, outcome, when(v.Started, r.Now), orDash(v.Who),
			orDash(v.Where), orDash(commitLine(v.Commit, v.Message)), orDash(v.Image), orDash(detail))
	}
	tw.Flush()
}

func printAudit(deps Deps, r *HistoryReport) {
	if len(r.Events) == 0 {
		fmt.Fprintf(deps.IO.ErrOut, "Nothing deployed yet in app %s, environment %s.\n", r.App, r.Env)
		return
	}
	tw := tabwriter.NewWriter(deps.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tEVENT\tSERVICE\tREVISION\tWHO\tFROM\tDETAIL")
	for _, e := range r.Events {
		rev := "-"
		if e.Number > 0 {
			rev = fmt.Sprint(e.Number)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", when(e.Time, r.Now), e.Kind, orDash(e.Service), rev,
			orDash(e.Who), orDash(e.Where), orDash(e.Text))
	}
	tw.Flush()
}

// commitLine is the short commit and its subject, cut to a table's width.
func commitLine(commit, message string) string {
	if commit == "" {
		return ""
	}
	if len(message) > 40 {
		message = message[:39] + "…"
	}
	return strings.TrimSpace(history.ShortCommit(commit) + " " + message)
}

// when is "5m ago (2026-03-01 10:05 UTC)": relative to now, by the hosts' clock.
func when(t, now time.Time) string {
	return ago(now.Sub(t)) + " (" + t.UTC().Format("2006-01-02 15:04 UTC") + ")"
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
}
