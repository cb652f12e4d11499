package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/controller"
	"github.com/deckhq/deck/controller/autoscale"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers/leader"
	"github.com/deckhq/deck/providers/lock"
	"github.com/deckhq/deck/providers/podman"
)

// ControllerOptions are deck controller's inputs.
type ControllerOptions struct {
	Deps    Deps
	Globals *Globals
	// Targets are FILE:ENV pairs; none means the app file and environment of -f and -e.
	Targets   []string
	Once      bool
	Listen    string // /healthz and /metrics; "" serves neither
	LogFormat string // text or json
	LockTTL   time.Duration
	LockWait  time.Duration // --once: how long to wait for a deploy that holds the lock
	// ScaleWindow is how far back autoscaling averages its metrics.
	ScaleWindow time.Duration
}

// NewCmdController builds `deck controller`.
func NewCmdController(deps Deps, g *Globals, runF func(*ControllerOptions) error) *cobra.Command {
	opts := &ControllerOptions{Deps: deps, Globals: g}
	cmd := &cobra.Command{
		Use:   "controller [FILE:ENV...]",
		Short: "Keep services running: replace failed tasks, move tasks off lost hosts",
		Long: `Run the service scheduler in the foreground for the app file and environment of -f and -e, or
for each FILE:ENV given (several apps and environments in one process).

What should run is what deck deploy recorded on the hosts: the controller needs no manifest
beyond the app file's hosts and load balancers, and keeps no state of its own, so it can be
killed and started elsewhere at any time. It reconciles when a host's Podman event stream says a
task's container died or was OOM-killed, when a task fails its health check retries in a row
(it runs the checks itself: Podman runs none without systemd), when a host has been unreachable
longer than the environment's controller.host_grace, and every controller.resync.

Only one controller per environment acts: the others stand by until the leader's lease lapses.
Every change takes the deploy lock, so a controller and deck deploy never act at once.

Logs are structured lines on stderr (--log-format json for one JSON object per line).
--listen serves /healthz and Prometheus /metrics.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Targets = args
			if runF != nil {
				return runF(opts)
			}
			return runController(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Once, "once", false, "reconcile once and exit (status 1 if a service could not be brought to its desired state)")
	cmd.Flags().StringVar(&opts.Listen, "listen", "127.0.0.1:9470", `address for /healthz and /metrics ("" for none)`)
	cmd.Flags().StringVar(&opts.LogFormat, "log-format", "text", "log lines as text or json")
	cmd.Flags().DurationVar(&opts.LockTTL, "lock-ttl", 0, "the deploy lock's time to live while the controller applies a change (default: the environment's controller.lease)")
	cmd.Flags().DurationVar(&opts.ScaleWindow, "scale-window", time.Minute, "autoscaling averages cpu, memory and requests in flight over this window")
	cmd.Flags().DurationVar(&opts.LockWait, "lock-wait", 0, "with --once, wait this long for the deploy lock when a deploy holds it (without --once the controller tries again by itself)")
	return cmd
}

func runController(ctx context.Context, opts *ControllerOptions) error {
	if opts.LockTTL != 0 && opts.LockTTL < 2*time.Second {
		return flagErrorf("--lock-ttl must be at least 2s (the lock hosts' clocks read to the second), not %s", opts.LockTTL)
	}
	log, err := controllerLogger(opts)
	if err != nil {
		return err
	}
	worlds, err := controllerWorlds(opts)
	if err != nil {
		return err
	}
	metrics := controller.NewMetrics()
	var ctrls []*controller.Controller
	for _, w := range worlds {
		ctrls = append(ctrls, controller.New(controllerConfig(opts, w, log, metrics)))
	}
	if opts.Once {
		var errs []error
		for _, c := range ctrls {
			errs = append(errs, c.Once(ctx))
		}
		if opts.Globals.Output == "json" {
			return writeOnceJSON(opts.Deps, ctrls, errs)
		}
		return errors.Join(errs...)
	}
	if opts.Listen != "" {
		srv, err := serveMetrics(opts.Listen, metrics.Handler(ctrls))
		if err != nil {
			return err
		}
		defer srv.Close()
		log.Info("serving /healthz and /metrics", "addr", srv.Addr)
	}
	var wg sync.WaitGroup
	for _, c := range ctrls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Run(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// OnceJSON is deck controller --once's -o json: how each environment's reconcile went,
// and the error when one did not bring its services to their desired state.
type OnceJSON struct {
	Environments []OnceEnvJSON `json:"environments"`
	Error        *ErrorJSON    `json:"error,omitempty"`
}

// OnceEnvJSON is one environment's reconcile.
type OnceEnvJSON struct {
	App   string `json:"app"`
	Env   string `json:"environment"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

func writeOnceJSON(deps Deps, ctrls []*controller.Controller, errs []error) error {
	doc := OnceJSON{Environments: []OnceEnvJSON{}}
	for i, c := range ctrls {
		st := c.Status()
		e := OnceEnvJSON{App: st.App, Env: st.Env, OK: errs[i] == nil}
		if errs[i] != nil {
			e.Error = errs[i].Error()
		}
		doc.Environments = append(doc.Environments, e)
	}
	if err := errors.Join(errs...); err != nil {
		doc.Error = newErrorJSON(err, 1)
	}
	if err := writeJSON(deps, doc); err != nil {
		return err
	}
	if doc.Error != nil {
		return &ExitError{Code: 1}
	}
	return nil
}

func controllerLogger(opts *ControllerOptions) (*slog.Logger, error) {
	w := opts.Deps.IO.ErrOut
	switch opts.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, flagErrorf("--log-format must be text or json, not %q", opts.LogFormat)
}

// controllerWorlds loads the app file and environment of each target.
func controllerWorlds(opts *ControllerOptions) ([]*world, error) {
	if len(opts.Targets) == 0 {
		w, err := loadManifests(opts.Deps, opts.Globals, false)
		if err != nil {
			return nil, err
		}
		return []*world{w}, nil
	}
	var out []*world
	for _, t := range opts.Targets {
		file, env, ok := strings.Cut(t, ":")
		if !ok || file == "" || env == "" {
			return nil, flagErrorf("each target is FILE:ENV, such as deck.yaml:prod, not %q", t)
		}
		g := *opts.Globals
		g.File, g.Env = file, env
		w, err := loadManifests(opts.Deps, &g, false)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

func controllerConfig(opts *ControllerOptions, w *world, log *slog.Logger, m *controller.Metrics) controller.Config {
	t := w.target(opts.Deps, opts.Globals)
	// The watchers notice a host that stops answering within seconds; a read must not wait
	// longer than that on it meanwhile.
	t.HostTimeout = min(t.HostTimeout, controllerHostTimeout)
	// A running controller keeps its own connections open anyway, and notices a lost one
	// by its own keepalive: it shares none with other commands.
	if d, ok := t.Dialer.(podman.Dialer); ok && !opts.Once {
		d.Persist = 0
		t.Dialer = d
	}
	cs := w.env.Controller
	cfg := controller.Config{Target: t, Log: log, Metrics: m, Lock: controllerLock(controllerLockTTL(opts.LockTTL, cs), opts.LockWait),
		Resync: cs.Resync, HostGrace: cs.HostGrace,
		Autoscale: autoscale.Config{Window: opts.ScaleWindow, StatsEvery: min(5*time.Second, opts.ScaleWindow/6)},
		Watch:     controller.WatchHosts(t.Dialer, t.App.Name, t.Env.Name)}
	if !opts.Once {
		cfg.Elector = electorOf(t, cs, log)
	}
	return cfg
}

// controllerHostTimeout bounds the controller's reads of one host.
const controllerHostTimeout = 3 * time.Second

// controllerLockTTL is the deploy lock's TTL when the controller holds it: --lock-ttl, or
// else the leader lease. A leader that dies (or is paused) in the middle of a change
// leaves the deploy lock held; with a TTL longer than the lease, the standby would lead
// after one lease but could change nothing until the lock ran out (30s for a deploy's),
// so a task killed meanwhile stayed down that long.
func controllerLockTTL(flag time.Duration, cs manifest.ControllerSpec) time.Duration {
	if flag > 0 {
		return flag
	}
	return cs.Lease
}

// controllerLock takes the deploy lock without waiting: when a deploy holds it, the
// controller lets it finish and tries again shortly.
func controllerLock(ttl, wait time.Duration) func(context.Context, *pipeline.Session) (pipeline.Lease, error) {
	return func(ctx context.Context, s *pipeline.Session) (pipeline.Lease, error) {
		// A renewal must not wait on a host that does not answer for longer than the lock
		// can spare (as for the leader lease).
		locker, err := s.HostsLocker(lock.WithTTL(ttl), lock.WithMargin(min(2*time.Second, ttl/4)),
			lock.WithHostTimeout(min(s.T.HostTimeout, ttl/4)), lock.WithWatchInterval(lockWatch))
		if err != nil {
			return nil, err
		}
		return locker.Acquire(ctx, lock.Request{Who: lock.Me(controllerCommand, "reconcile: replace failed or lost tasks, start job runs, scale"), Wait: wait})
	}
}

// electorOf chooses the environment's leader election: a lease on its hosts (each dialled
// on demand, so a host that comes back takes part again) or etcd.
func electorOf(t pipeline.Target, cs manifest.ControllerSpec, log *slog.Logger) controller.Elector {
	return &lazyElector{make: func() (leader.Elector, error) {
		return leader.New(cs, pipeline.DialRecords(t), t.App.Name, t.Env.Name,
			// A lease renewal must not wait on a host that does not answer for longer than
			// the lease can spare, or one host cut off would cost the leadership.
			leader.Options{Log: log.With("app", t.App.Name, "env", t.Env.Name), HostTimeout: cs.Lease / 4})
	}}
}

// lazyElector makes the elector at the first campaign, so a bad etcd endpoint is an error
// of the campaign, retried and logged, not of the command's start.
type lazyElector struct {
	make func() (leader.Elector, error)
	e    leader.Elector
}

func (l *lazyElector) Campaign(ctx context.Context) (controller.Term, error) {
	if l.e == nil {
		e, err := l.make()
		if err != nil {
			return nil, err
		}
		l.e = e
	}
	return l.e.Campaign(ctx)
}

func serveMetrics(addr string, h http.Handler) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	srv := &http.Server{Addr: ln.Addr().String(), Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}
