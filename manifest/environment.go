package manifest

import (
	"fmt"
	"net/url"
	"os"
	"sort"
)

// Environment returns the named environment. name "" means the only one when exactly one is
// configured; when none is configured, an implicit "local" environment (Implicit: true) with
// one host named "local" at LocalURL. An unknown name is an error listing the valid ones.
func (a *App) Environment(name string) (*Environment, error) {
	// A configured name is looked up first: deck validate asks for each of thousands.
	if env, ok := a.Environments[name]; ok {
		if errs := a.deferred[name]; len(errs) > 0 {
			return nil, errs.err()
		}
		return env, nil
	}
	names := a.EnvironmentNames()
	if len(names) == 0 {
		if name == "" || name == LocalEnvironment {
			return a.implicitEnvironment(), nil
		}
		return nil, &Error{File: a.File, Msg: fmt.Sprintf("environment %s is not configured: this deck.yaml has no environments; leave the environment unset to use the local Podman socket, or add environments: {%s: {hosts: [...]}}", quote(name), clip(name))}
	}
	if name == "" {
		if len(names) > 1 {
			return nil, &Error{File: a.File, Msg: fmt.Sprintf("%d environments are configured (%s); choose one with --env (or DECK_ENV)", len(names), nameList(names))}
		}
		name = names[0]
	}
	env, ok := a.Environments[name]
	if !ok {
		return nil, &Error{File: a.File, Msg: fmt.Sprintf("environment %s is not configured;%s valid: %s", quote(name), suggest(name, names), nameList(names))}
	}
	if errs := a.deferred[name]; len(errs) > 0 {
		return nil, errs.err()
	}
	return env, nil
}

// EnvironmentNames returns the configured environments' names, sorted.
func (a *App) EnvironmentNames() []string {
	names := make([]string, 0, len(a.Environments))
	for n := range a.Environments {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// implicitEnvironment is the environment of an app that configures none: the local Podman.
func (a *App) implicitEnvironment() *Environment {
	lookup := a.lookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	h := HostSpec{Name: "local", URL: LocalURL(lookup), Address: "127.0.0.1"}
	// CONTAINER_HOST may point at a remote Podman over ssh, as podman itself allows; take
	// the key from CONTAINER_SSHKEY then, as podman does.
	if u, err := url.Parse(h.URL); err == nil && u.Scheme == "ssh" {
		h.Address = u.Hostname()
		l := &appLoader{app: a}
		if key, ok := lookup("CONTAINER_SSHKEY"); ok {
			h.Identity, _ = l.localPath(key)
		}
		h.KnownHosts, _ = l.localPath("~/.ssh/known_hosts")
	}
	return &Environment{Name: LocalEnvironment, Hosts: []HostSpec{h}, Implicit: true, Controller: DefaultController()}
}

// LocalURL is where the local Podman listens: CONTAINER_HOST if set; else the rootful socket
// when running as root; else the rootless socket under XDG_RUNTIME_DIR.
func LocalURL(lookupEnv func(string) (string, bool)) string {
	return localURL(lookupEnv, os.Geteuid())
}

func localURL(lookupEnv func(string) (string, bool), euid int) string {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	if v, ok := lookupEnv("CONTAINER_HOST"); ok && v != "" {
		return v
	}
	if euid == 0 {
		return "unix:///run/podman/podman.sock"
	}
	dir, ok := lookupEnv("XDG_RUNTIME_DIR")
	if !ok || dir == "" {
		dir = fmt.Sprintf("/run/user/%d", euid)
	}
	return "unix://" + dir + "/podman/podman.sock"
}
