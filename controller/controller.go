package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/deckhq/deck/controller/autoscale"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
)

// Elector campaigns for the leadership of one app and environment (providers/leader).
type Elector interface {
	// Campaign blocks until this process leads, or ctx ends.
	Campaign(ctx context.Context) (Term, error)
}

// Term is one period of leadership.
type Term interface {
	Epoch() uint64
	// Check is nil while the lease is surely held.
	Check() error
	// Lost is closed when leadership is lost.
	Lost() <-chan struct{}
	Resign(ctx context.Context) error
}

// Event is what the controller needs of one event on a host.
type Event struct {
	Host        string
	Action      string // Podman's ("died", "oom", "health_status", ...) or HostUp / HostDown
	Service     string
	ContainerID string
	ExitCode    int
	// Kind is the container's deck kind: "" for a service's task, else a job run's or a
	// standalone task's (providers.LabelKind).
	Kind string
	// LastAnswer, on HostDown, is when the host last answered (a ping or an event): it
	// has been unreachable since then, not since the watcher gave it up a ping timeout
	// later. Zero when it never answered.
	LastAnswer time.Time
}

// The synthetic events a watcher sends when a host's stream breaks and comes back.
const (
	HostUp   = "host-up"
	HostDown = "host-down"
)

// Watch follows one host's events of the app and environment until ctx ends,
// reconnecting as needed, and sends them (with HostUp / HostDown) to out.
type Watch func(ctx context.Context, spec manifest.HostSpec, out chan<- Event)

// Config is one controller: one app and environment.
type Config struct {
	Target pipeline.Target
	// Elector decides who leads; nil leads at once (a single controller, or --once).
	Elector Elector
	// Watch follows the hosts' events; nil relies on the resync and health probes alone.
	Watch Watch
	// Lock takes the deploy lock for one reconcile's changes (without waiting: a deploy
	// that holds it is let finish, and the controller tries again).
	Lock func(ctx context.Context, s *pipeline.Session) (pipeline.Lease, error)
	// Resync is how often everything is read and reconciled even with no event (30s).
	Resync time.Duration
	// HostGrace is how long a host may be unreachable before its tasks are placed
	// elsewhere (15s).
	HostGrace time.Duration
	// RetryDelay is the first delay before a service whose tasks failed is tried again;
	// it doubles per consecutive failure up to MaxRetryDelay (5s, 5m).
	RetryDelay, MaxRetryDelay time.Duration
	Log                       *slog.Logger
	Metrics                   *Metrics
	// Now is the clock (time.Now).
	Now func() time.Time
	// Autoscale says how the autoscaled services' metrics are sampled (window 60s).
	Autoscale autoscale.Config
}

func (c *Config) defaults() {
	if c.Resync <= 0 {
		c.Resync = 30 * time.Second
	}
	if c.HostGrace <= 0 {
		c.HostGrace = 15 * time.Second
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = 5 * time.Second
	}
	if c.MaxRetryDelay <= 0 {
		c.MaxRetryDelay = 5 * time.Minute
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Controller keeps one app and environment's services running.
type Controller struct {
	cfg   Config
	log   *slog.Logger
	cache *pipeline.RevisionCache
	hosts *hostBook
	retry *backoff
	probe *healthTracker
	crash *crashes
	scale *scaling
	// evlog gathers what the controller does for the environment's event log (deck
	// events), written once per reconcile.
	evlog *pipeline.EventLog

	services []manifest.ServiceSpec // what should run, as the last reconcile read it
	skipped  map[string]bool        // why services are left alone, as the last reconcile said
	// own are the containers this controller stopped or removed itself ("host/id" -> when):
	// their died and remove events are its own doing, not news.
	own      map[string]time.Time
	jobList  []pipeline.Job // the Scheduled Jobs as last read
	jobsRead time.Time

	mu      sync.Mutex
	leading bool
	last    Status
}

// New makes a controller.
func New(cfg Config) *Controller {
	cfg.defaults()
	log := cfg.Log.With("app", cfg.Target.App.Name, "env", cfg.Target.Env.Name)
	evlog := pipeline.NewEventLog(cfg.Now)
	return &Controller{cfg: cfg, log: log, cache: pipeline.NewRevisionCache(),
		hosts: newHostBook(cfg.HostGrace, cfg.Now), retry: newBackoff(cfg.RetryDelay, cfg.MaxRetryDelay, cfg.Now),
		probe: newHealthTracker(cfg.Now, evlog), crash: newCrashes(), scale: newScaling(), evlog: evlog}
}

// Status is what /healthz reports of one controller.
type Status struct {
	App, Env      string
	Leading       bool
	Epoch         uint64
	LastReconcile time.Time
	LastError     string
}

// Status says whether it leads and how its last reconcile went.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.last
	st.App, st.Env, st.Leading = c.cfg.Target.App.Name, c.cfg.Target.Env.Name, c.leading
	return st
}

// Once reads the hosts and reconciles once (deck controller --once).
func (c *Controller) Once(ctx context.Context) error {
	s, err := pipeline.Open(ctx, c.cfg.Target) // the first reconcile reads the hosts
	if err != nil {
		return err
	}
	defer s.Close()
	c.attach(s)
	start := c.cfg.Now()
	err = c.reconcile(ctx, s, nil, "once")
	c.flushEvents(ctx, s, nil)
	c.cfg.Metrics.reconciled(c.cfg.Target.App.Name, c.cfg.Target.Env.Name, c.cfg.Now().Sub(start), err)
	return errors.Join(err, c.jobs(ctx, s, nil))
}

// Run campaigns for leadership and, while leading, keeps the services running; it
// campaigns again when leadership is lost, and returns when ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	for {
		term, err := c.campaign(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.log.Error("campaigning for leadership failed; trying again", "err", err)
			if !pipeline.Pause(ctx, c.cfg.RetryDelay) {
				return nil
			}
			continue
		}
		err = c.lead(ctx, term)
		c.setLeading(false, 0)
		if ctx.Err() != nil {
			if term != nil {
				_ = term.Resign(context.WithoutCancel(ctx))
			}
			return nil
		}
		c.log.Warn("leadership lost; standing by", "err", err)
	}
}

func (c *Controller) campaign(ctx context.Context) (Term, error) {
	if c.cfg.Elector == nil {
		return nil, nil
	}
	c.log.Info("campaigning for leadership")
	return c.cfg.Elector.Campaign(ctx)
}

func (c *Controller) setLeading(on bool, epoch uint64) {
	c.mu.Lock()
	c.leading, c.last.Epoch = on, epoch
	c.mu.Unlock()
	c.cfg.Metrics.leader(c.cfg.Target.App.Name, c.cfg.Target.Env.Name, on)
}

// errLost is why a term ended when its lease was lost.
var errLost = errors.New("leader lease lost")

func termError(term Term) error {
	if err := term.Check(); err != nil {
		return fmt.Errorf("%w: %v", errLost, err)
	}
	return errLost
}
