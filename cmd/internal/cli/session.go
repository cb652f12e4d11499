package cli

import (
	"context"
	"fmt"
	"net"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers"
	"github.com/deckhq/deck/providers/lb"
	"github.com/deckhq/deck/providers/lb/caddy"
	"github.com/deckhq/deck/providers/podman"
)

// world is what one command run knows of the manifests: the app, the environment chosen
// and (when asked for) its services.
type world struct {
	app      *manifest.App
	env      *manifest.Environment
	services []manifest.ServiceSpec
}

// loadManifestsWithoutSecrets is loadManifests for a command that reads no secret's
// source (deck rollback): a secret whose variable or file is missing on this machine is
// no error.
func loadManifestsWithoutSecrets(deps Deps, g *Globals) (*world, error) {
	w, err := loadManifests(deps, g, false)
	if err != nil {
		return nil, err
	}
	// LoadServices gives the services with only such problems (see manifest's "local").
	if w.services, err = manifest.LoadServices(w.app, w.env.Name, deps.LookupEnv); w.services == nil && err != nil {
		return nil, manifestError(deps, g, err) // a problem of the manifests themselves
	}
	return w, nil
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
	return nil, manifestError(deps, g, err)
}

// dialer reaches the hosts: deps.Dialer in tests, else Podman, sharing ssh connections
// between commands for --ssh-persist.
func (deps Deps) dialer(g *Globals) providers.Dialer {
	if deps.Dialer != nil {
		return deps.Dialer
	}
	return podman.Dialer{Persist: g.SSHPersist, MuxCommand: deps.SSHMux}
}

// target is the pipeline's view of this command's world.
func (w *world) target(deps Deps, g *Globals) pipeline.Target {
	return pipeline.Target{App: w.app, Env: w.env, Services: w.services, Dialer: deps.dialer(g), HostTimeout: g.HostTimeout,
		OpenBalancer: deps.openBalancer()}
}

// open connects to the environment's hosts and reads them.
func (w *world) open(ctx context.Context, deps Deps, g *Globals) (*pipeline.Session, error) {
	return pipeline.OpenRead(ctx, w.target(deps, g))
}

// readHosts loads the app file (no service manifests) and connects to its environment's
// hosts, reading their tasks and health: for commands that look at what runs (exec, top).
func readHosts(ctx context.Context, deps Deps, g *Globals) (*world, *pipeline.Session, error) {
	w, err := loadManifests(deps, g, false)
	if err != nil {
		return nil, nil, err
	}
	s, err := w.open(ctx, deps, g)
	if err != nil {
		return nil, nil, err
	}
	return w, s, nil
}

// connect loads the app file and connects to its environment's hosts, reading nothing
// yet: for commands that read only what they need (jobs, tasks, the lock).
func connect(ctx context.Context, deps Deps, g *Globals) (*pipeline.Session, error) {
	w, err := loadManifests(deps, g, false)
	if err != nil {
		return nil, err
	}
	return pipeline.Open(ctx, w.target(deps, g))
}

// builder returns how images are built: on --builder when given, else on the first host.
// The local socket is not probed: a laptop with Podman names it with --builder (or
// DECK_BUILDER), and a deploy from a machine without one pays nothing for asking.
func (w *world) builder(deps Deps, g *Globals) pipeline.BuilderFunc {
	if g.Builder == "" {
		return nil
	}
	return func(ctx context.Context) (providers.Host, error) {
		dctx, cancel := context.WithTimeout(ctx, providers.DialTimeout)
		defer cancel()
		h, err := deps.dialer(g).Dial(dctx, manifest.HostSpec{Name: "builder", URL: g.Builder, Address: "127.0.0.1"})
		if err != nil {
			return nil, fmt.Errorf("--builder: %w", err)
		}
		return h, nil
	}
}

// deckFiles are the app file and the service manifests, as paths.
func (w *world) deckFiles() []string {
	files := []string{w.app.File}
	for _, s := range w.services {
		files = append(files, s.File)
	}
	return files
}

func (deps Deps) openBalancer() pipeline.OpenBalancer {
	if deps.OpenBalancer != nil {
		return deps.OpenBalancer
	}
	return openBalancer
}

// openBalancer makes the client of a load balancer by its provider.
func openBalancer(spec manifest.LoadBalancerSpec, dial func(ctx context.Context) (net.Conn, error)) (lb.Balancer, error) {
	switch spec.Provider {
	case "", manifest.LBCaddy:
		return caddy.New(spec, dial), nil
	}
	return nil, fmt.Errorf("load balancer %s: provider %q is not supported by this deck; want %s", spec.Name, spec.Provider, manifest.LBCaddy)
}
