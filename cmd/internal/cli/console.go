package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/cmd/internal/console"
	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/planner"
)

// ConsoleOptions are deck console's inputs.
type ConsoleOptions struct {
	Deps        Deps
	Globals     *Globals
	Listen      string
	AllowDeploy bool
	Refresh     time.Duration
	LogTail     int
}

// NewCmdConsole builds `deck console`.
func NewCmdConsole(deps Deps, g *Globals, runF func(*ConsoleOptions) error) *cobra.Command {
	opts := &ConsoleOptions{Deps: deps, Globals: g}
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Serve a live web page of the environments: services, tasks, hosts, plan, events, logs",
		Long: `Serve a web page on this machine that shows what deck status, plan, history, events and logs
show, for each environment of the app, and keeps itself current (server-sent events): a task
that stops shows up without a reload. The page is part of the deck binary and loads nothing
from elsewhere.

deck prints the URL to open: it carries a random token, as Jupyter's does; the page keeps it
in a cookie, and a request without it gets 401. The server listens on 127.0.0.1 unless
--listen says otherwise.

The page is read-only unless --allow-deploy: then it has a Deploy button (deck deploy --yes)
and a Roll back button per service (deck rollback SERVICE --yes), which take the same deploy
lock and run the same pipeline as the commands.`,
		Example: `  deck console
  deck console --env production --listen 127.0.0.1:8080 --allow-deploy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Refresh < 200*time.Millisecond {
				return flagErrorf("--refresh %s: want 200ms or more", opts.Refresh)
			}
			if runF != nil {
				return runF(opts)
			}
			return runConsole(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Listen, "listen", "127.0.0.1:0", "the address to serve on (port 0: a free one)")
	cmd.Flags().BoolVar(&opts.AllowDeploy, "allow-deploy", false, "add deploy and rollback buttons (otherwise the page only reads)")
	cmd.Flags().DurationVar(&opts.Refresh, "refresh", 2*time.Second, "how often the page reads the hosts again")
	cmd.Flags().IntVar(&opts.LogTail, "log-lines", 20, "how many of each service's latest log lines the page shows")
	return cmd
}

// ConsoleJSON is what deck console -o json prints once it listens: the URL to open (with
// its token) and where it listens.
type ConsoleJSON struct {
	URL         string `json:"url"`
	Listen      string `json:"listen"`
	Env         string `json:"environment"`
	AllowDeploy bool   `json:"allow_deploy"`
}

func runConsole(ctx context.Context, o *ConsoleOptions) error {
	deps, g := o.Deps, o.Globals
	// The app file is read once here, so a broken one is reported now, not on the page.
	w, err := loadManifests(deps, g, false)
	if err != nil {
		return err
	}
	// Ctrl-C ends the page's streams at once, and a deploy or rollback started from the
	// page as Ctrl-C ends deck deploy.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := console.New(console.Options{Backend: &consoleBackend{deps: deps, g: g, envs: w.app.EnvironmentNames(), env: w.env.Name},
		AllowDeploy: o.AllowDeploy, Refresh: o.Refresh, LogTail: o.LogTail, Context: ctx,
		Logf: func(format string, args ...any) { fmt.Fprintf(deps.IO.ErrOut, format+"\n", args...) }})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", o.Listen, err)
	}
	if host, _, _ := net.SplitHostPort(o.Listen); !isLoopback(host) {
		fmt.Fprintf(deps.IO.ErrOut, "Warning: listening on %s, not only this machine: whoever has the URL can read the environment over plain HTTP\n", ln.Addr())
	}
	if g.Output == "json" {
		if err := writeJSON(deps, ConsoleJSON{URL: srv.URL(ln.Addr().String()), Listen: ln.Addr().String(), Env: w.env.Name,
			AllowDeploy: o.AllowDeploy}); err != nil {
			_ = ln.Close()
			return err
		}
	} else {
		fmt.Fprintln(deps.IO.Out, srv.URL(ln.Addr().String()))
	}
	fmt.Fprintln(deps.IO.ErrOut, "deck console: open the URL above; Ctrl-C stops it")
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	if what := srv.Running(); what != "" {
		fmt.Fprintf(deps.IO.ErrOut, "Stopping %s as Ctrl-C stops it on the command line...\n", what)
	}
	srv.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// consoleBackend is the console's view of the CLI: each read is the one a command does
// (deck status, plan, history, events, logs), for the environment the page shows.
type consoleBackend struct {
	deps Deps
	g    *Globals
	envs []string
	env  string
}

func (b *consoleBackend) Environments() ([]string, string) {
	if len(b.envs) == 0 { // no environment configured: the implicit local one
		return []string{b.env}, b.env
	}
	return b.envs, b.env
}

// globals are the command's globals for env; output is always a table.
func (b *consoleBackend) globals(env string) *Globals {
	g := *b.g
	g.Env, g.Output = env, "table"
	if env == manifest.LocalEnvironment && len(b.envs) == 0 {
		g.Env = ""
	}
	return &g
}

// quiet are the deps with what the commands print to out. Off a terminal: no colour, no
// prompt.
func (b *consoleBackend) quiet(out io.Writer) Deps {
	d := b.deps
	d.IO = &iostreams.IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: out}
	return d
}

// reading runs read with deps that keep what it prints: a manifest error is printed, and
// only "exit status 1" returned, so the page shows what was printed instead.
func (b *consoleBackend) reading(read func(Deps) error) error {
	var printed bytes.Buffer
	err := read(b.quiet(&printed))
	var ee *ExitError
	if errors.As(err, &ee) && ee.Err == nil && printed.Len() > 0 {
		return errors.New(strings.TrimSpace(printed.String()))
	}
	return err
}

func (b *consoleBackend) Status(ctx context.Context, env string) (*console.Status, error) {
	var st *Status
	err := b.reading(func(deps Deps) (err error) {
		st, err = collectStatus(ctx, deps, b.globals(env))
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &console.Status{App: st.App, Env: st.Env}
	for _, s := range st.Services {
		cs := console.Service{Name: s.Name, Type: s.Type, Desired: s.Desired, Running: s.Running, Healthy: s.Healthy,
			Revisions: s.Revisions}
		for _, t := range s.Tasks {
			cs.Tasks = append(cs.Tasks, console.Task{ID: t.ID, Host: t.Host, State: t.State, Healthy: t.Healthy,
				Health: t.Health, Revision: t.Revision, Endpoint: t.Endpoint})
			if t.State == "running" && t.Endpoint != "" {
				cs.Endpoints = append(cs.Endpoints, t.Endpoint)
			}
		}
		out.Services = append(out.Services, cs)
	}
	for _, h := range st.Hosts {
		out.Hosts = append(out.Hosts, console.Host{Name: h.Name, Reachable: h.Reachable, Error: h.Error, Version: h.Version,
			CPUUsed: h.Used.CPU, CPUFree: h.Free.CPU, MemUsed: h.Used.Memory, MemFree: h.Free.Memory, Tasks: h.Tasks})
	}
	return out, nil
}

// Plan is deck plan's text, uncoloured.
func (b *consoleBackend) Plan(ctx context.Context, env string) (string, bool, error) {
	var text bytes.Buffer
	changes := false
	err := b.reading(func(deps Deps) error {
		g := b.globals(env)
		w, err := loadManifests(deps, g, true)
		if err != nil {
			return err
		}
		d := pipeline.Deploy{Target: w.target(deps, g), LookupEnv: deps.LookupEnv, DeckFiles: w.deckFiles(), PlanOnly: true,
			Planned: func(p *planner.Plan) error { return planner.RenderText(&text, p, planner.PlainStyle{}) }}
		out, err := d.Run(ctx)
		if out.Session != nil {
			defer out.Session.Close()
		}
		if err == nil {
			changes = !out.Plan.Empty()
		}
		return err
	})
	if err != nil {
		return "", false, err
	}
	return text.String(), changes, nil
}

// connect is connect's session for env: the app file read, the hosts dialled.
func (b *consoleBackend) connect(ctx context.Context, env string) (s *pipeline.Session, err error) {
	err = b.reading(func(deps Deps) error {
		s, err = connect(ctx, deps, b.globals(env))
		return err
	})
	return s, err
}

func (b *consoleBackend) History(ctx context.Context, env string) ([]console.Revision, error) {
	s, err := b.connect(ctx, env)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	store, err := historyStore(s)
	if err != nil {
		return nil, err
	}
	r, err := collectHistory(ctx, store, "")
	if err != nil {
		return nil, err
	}
	var out []console.Revision
	for _, v := range r.Revisions {
		detail := v.Detail
		out = append(out, console.Revision{Service: v.Service, Number: v.Revision, Kind: v.Kind, Outcome: v.Outcome,
			Started: v.Started, Who: v.Who, Where: v.Where, Commit: v.Commit, Image: v.Image, Detail: detail, Finished: v.Finished != nil})
	}
	return out, nil
}

func (b *consoleBackend) Events(ctx context.Context, env string, since time.Time) ([]console.Event, error) {
	s, err := b.connect(ctx, env)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	evs, err := pipeline.ReadEventLog(ctx, s, since)
	out := make([]console.Event, 0, len(evs))
	for _, e := range evs {
		out = append(out, console.Event{Time: e.Time, Service: e.Service, Message: e.Message})
	}
	return out, err
}

// Logs reads each service's last lines as deck logs SERVICE --tail N does, on one
// connection to the hosts.
func (b *consoleBackend) Logs(ctx context.Context, env string, services []string, tail int) (map[string][]console.LogLine, error) {
	s, err := b.connect(ctx, env)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	out := map[string][]console.LogLine{}
	for _, name := range services {
		var lines []console.LogLine
		err := s.Logs(ctx, pipeline.LogsRequest{Service: name, Tail: tail, ToNow: true}, func(l pipeline.TaskLine) {
			lines = append(lines, console.LogLine{Time: l.Time, Task: l.Task, Host: l.Host, Line: l.Line, Event: l.Event})
		}, func(string) {})
		if err != nil {
			// "service web has no running tasks" and the like: said under the service.
			lines = append(lines, console.LogLine{Time: time.Now(), Event: "note", Line: err.Error()})
		}
		// Each task gave its last lines: the page keeps the newest of the service's.
		if len(lines) > tail {
			lines = lines[len(lines)-tail:]
		}
		out[name] = lines
	}
	return out, nil
}

// Deploy is deck deploy --yes, its output to out; the history's trigger says it came
// from the console.
func (b *consoleBackend) Deploy(ctx context.Context, env string, out io.Writer) error {
	g := b.globals(env)
	g.Yes = true
	return runDeploy(ctx, &DeployOptions{Deps: b.quiet(out), Globals: g, Lock: LockFlags{TTL: 30 * time.Second}, Via: "deck console"})
}

// Rollback is deck rollback SERVICE --yes, its output to out.
func (b *consoleBackend) Rollback(ctx context.Context, env, service string, out io.Writer) error {
	g := b.globals(env)
	g.Yes = true
	return runRollback(ctx, &RollbackOptions{Deps: b.quiet(out), Globals: g, Service: service, Lock: LockFlags{TTL: 30 * time.Second}, Via: "deck console"})
}
