package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner/state"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/podman"
)

// world is what one command run knows: the manifests, the hosts it reached, and the snapshot.
type world struct {
	app      *manifest.App
	env      *manifest.Environment
	services []manifest.ServiceSpec
	fleet    *providers.Fleet
	obs      *providers.Observation
	snap     *state.Snapshot
}

func (w *world) Close() {
	if w.fleet != nil {
		_ = w.fleet.Close()
	}
}

// loadManifests reads the app file and, when withServices, every service manifest of the
// environment. Manifest errors are printed in full and end the command with status 1.
func loadManifests(deps Deps, g *Globals, withServices bool) (*world, error) {
	app, err := manifest.LoadApp(g.File, deps.LookupEnv)
	if err == nil {
		var env *manifest.Environment
		env, err = app.Environment(g.Env)
		if err == nil {
			w := &world{app: app, env: env}
			if withServices {
				w.services, err = manifest.LoadServices(app, env.Name, deps.LookupEnv)
			}
			if err == nil {
				return w, nil
			}
		}
	}
	return nil, manifestError(deps, err)
}

func (deps Deps) dialer() providers.Dialer {
	if deps.Dialer != nil {
		return deps.Dialer
	}
	return podman.Dialer{}
}

// observe reads every host of the environment and loads what it saw into a snapshot.
func (w *world) observe(ctx context.Context, deps Deps) error {
	w.fleet, w.obs = providers.Observe(ctx, deps.dialer(), w.env.Hosts, w.app.Name, w.env.Name)
	return w.load()
}

// observeTasks is observe without the hosts' capacity (see providers.ObserveTasks).
func (w *world) observeTasks(ctx context.Context, deps Deps) error {
	w.fleet, w.obs = providers.ObserveTasks(ctx, deps.dialer(), w.env.Hosts, w.app.Name, w.env.Name)
	return w.load()
}

// readCapacity completes an observeTasks observation with the hosts' capacity.
func (w *world) readCapacity(ctx context.Context) error {
	providers.ReadCapacity(ctx, w.fleet, w.obs)
	return w.load()
}

func (w *world) load() error {
	store, err := state.Load(w.obs)
	if err != nil {
		w.Close()
		return err
	}
	w.snap = store.Snapshot()
	return nil
}

// builder picks the host that builds images: --builder when given, else the local Podman
// socket when it answers within a second, else nil (the executor then builds on the first
// host). Dialling pings the server, so a socket that answers is a working builder.
func (w *world) builder(ctx context.Context, deps Deps, g *Globals) (providers.Host, error) {
	url, timeout := g.Builder, providers.DialTimeout
	if url == "" {
		if w.env.Implicit {
			return nil, nil // the local socket is the environment's only host already
		}
		url, timeout = manifest.LocalURL(deps.LookupEnv), time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	h, err := deps.dialer().Dial(dctx, manifest.HostSpec{Name: "builder", URL: url, Address: "127.0.0.1"})
	if err != nil {
		if g.Builder != "" {
			return nil, fmt.Errorf("--builder: %w", err)
		}
		return nil, nil
	}
	return h, nil
}

// deckFiles are the app file and the service manifests, as paths.
func (w *world) deckFiles() []string {
	files := []string{w.app.File}
	for _, s := range w.services {
		files = append(files, s.File)
	}
	return files
}
