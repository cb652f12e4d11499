package lb

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Check reports what makes r unusable, or nil. Balancers refuse such a route before
// writing anything. It also refuses what a balancer would store in another form (a path
// with a trailing slash, an empty host name), so that a route read back from a balancer
// equals the route that was put and the planner sees no difference where there is none.
func (r Route) Check() error {
	for _, f := range []struct{ what, v string }{{"app", r.App}, {"environment", r.Env}, {"service", r.Service}} {
		if f.v == "" {
			return fmt.Errorf("route %s: the %s name is empty", r.Key(), f.what)
		}
	}
	if err := checkPath(r.Path); err != nil {
		return fmt.Errorf("route %s: %w", r.Key(), err)
	}
	for _, h := range r.Hosts {
		if h == "" || strings.ContainsAny(h, " /:\t") {
			return fmt.Errorf("route %s: %q is not a host name (no port, scheme or path)", r.Key(), h)
		}
	}
	seen := map[string]string{}
	for _, list := range []struct {
		what  string
		addrs []string
	}{{"target", r.Targets}, {"draining address", r.Draining}} {
		for _, a := range list.addrs {
			if err := checkAddress(a); err != nil {
				return fmt.Errorf("route %s: %s %w", r.Key(), list.what, err)
			}
			if prev, dup := seen[a]; dup {
				return fmt.Errorf("route %s: %s is listed twice (as a %s and as a %s)", r.Key(), a, prev, list.what)
			}
			seen[a] = list.what
		}
	}
	if r.Health.Interval < 0 || r.Health.Timeout < 0 {
		return fmt.Errorf("route %s: negative health check interval or timeout", r.Key())
	}
	if r.Health.Path != "" && !strings.HasPrefix(r.Health.Path, "/") {
		return fmt.Errorf("route %s: health check path %q must start with /", r.Key(), r.Health.Path)
	}
	return nil
}

func checkPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("path %q must start with /", p)
	case len(p) > 1 && strings.HasSuffix(p, "/"):
		return fmt.Errorf("path %q must not end with / (%q already matches %s/...)", p, strings.TrimSuffix(p, "/"), strings.TrimSuffix(p, "/"))
	case strings.ContainsAny(p, "*?#% \t"):
		return fmt.Errorf("path %q is a plain prefix: no *, ?, #, %% or spaces", p)
	}
	return nil
}

func checkAddress(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		return fmt.Errorf("%q is not host:port", a)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q has no valid port", a)
	}
	return nil
}
