package manifest

import (
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// lbProviders are the load balancers deck can drive (LBHAProxy is declared, not yet driven).
var lbProviders = []string{LBCaddy}

const lbWant = "want a list of load balancers such as - {name: edge, host: h1, admin: /run/caddy/admin.sock}"

// lbEntry is a decoded load balancer with the path it came from, for errors found once the
// environment's hosts are known.
type lbEntry struct {
	spec LoadBalancerSpec
	path string
	// badListen is set when listen was given and is wrong: it is neither defaulted nor
	// compared, which would only add a second, confusing error.
	badListen bool
}

// loadBalancerList decodes an environment's load_balancers. Their hosts are checked by
// checkLoadBalancers, once the hosts of hosts_file are known too.
func (l *appLoader) loadBalancerList(n *yaml.Node, p string) []lbEntry {
	if n.Kind != yaml.SequenceNode {
		l.d.errorf(n, p, "found %s; %s", describe(n), lbWant)
		return nil
	}
	var out []lbEntry
	for i, item := range n.Content {
		ip := indexPath(p, i)
		l.d.nodes[ip] = item
		if e, ok := l.loadBalancer(deref(item), ip); ok {
			out = append(out, e)
		}
	}
	return out
}

// loadBalancer decodes one load balancer; ok is false when it is too broken to check further.
func (l *appLoader) loadBalancer(n *yaml.Node, p string) (lbEntry, bool) {
	d := l.d
	lb := LoadBalancerSpec{Provider: LBCaddy}
	checked := func(dst *string, check func(string) string) func(*yaml.Node, string) {
		return func(n *yaml.Node, p string) {
			v, good := d.str(n, p)
			if !good {
				return
			}
			if msg := check(v); msg != "" {
				d.errorf(n, p, "%s", msg)
				return
			}
			*dst = v
		}
	}
	d.mapping(n, p, []field{
		{"name", checked(&lb.Name, checkLBName)},
		{"host", checked(&lb.Host, noCheck)}, // against the hosts in checkLoadBalancers
		{"provider", checked(&lb.Provider, checkLBProvider)},
		{"listen", checked(&lb.Listen, checkListen)},
		{"admin", checked(&lb.Admin, checkAdmin)},
	})
	if n.Kind != yaml.MappingNode {
		return lbEntry{}, false
	}
	for _, req := range []struct{ key, msg string }{
		{"name", "the load balancer has no name; want name: <name>, such as name: edge"},
		{"host", "the load balancer has no host; want host: <the environment's host that runs it>, such as host: h1"},
		{"admin", "the load balancer has no admin; want admin: <absolute path of its admin API's unix socket on the host>, such as admin: /run/caddy/admin.sock"},
	} {
		if !d.has(joinPath(p, req.key)) {
			d.at(joinPath(p, req.key), "%s", req.msg)
		}
	}
	lb.Admin = cleanAbs(lb.Admin)
	e := lbEntry{spec: lb, path: p, badListen: d.has(joinPath(p, "listen")) && lb.Listen == ""}
	return e, lb.Name != "" && lb.Host != ""
}

func noCheck(string) string { return "" }

func checkLBName(s string) string {
	if !hostNamePattern.MatchString(s) {
		return fmt.Sprintf("%s is not a valid load balancer name; want lowercase letters, digits and -, such as edge", quote(s))
	}
	return ""
}

func checkLBProvider(s string) string {
	switch {
	case s == LBCaddy:
		return ""
	case s == LBHAProxy:
		return fmt.Sprintf("provider %s is not supported yet: deck drives %s only for now; want provider: %s, or leave provider out", s, LBCaddy, LBCaddy)
	}
	return fmt.Sprintf("%s is not a load balancer provider;%s want %s", quote(s), suggest(s, append(lbProviders, LBHAProxy)), strings.Join(lbProviders, " or "))
}

// checkListen validates listen: an address and a port, the address clients use.
func checkListen(s string) string {
	const want = "want an address and a port such as 10.0.0.5:80 (leave listen out for the host's address, port 80)"
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%s is not address:port; %s", quote(s), want)
	}
	if host == "" || !validAddress(host) {
		return fmt.Sprintf("%s has no valid address before the port; %s", quote(s), want)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("%s has port %s; want a port from 1 to 65535", quote(s), quote(port))
	}
	return ""
}

// checkAdmin validates admin: a path on the load balancer's host, which may not be
// deck's own system, so it is never resolved from deck.yaml's directory.
func checkAdmin(s string) string {
	const want = "want the absolute path of the admin API's unix socket on the host, such as /run/caddy/admin.sock"
	if strings.HasPrefix(s, "/") {
		return ""
	}
	hint := ""
	if rest, ok := strings.CutPrefix(s, "unix://"); ok && strings.HasPrefix(rest, "/") {
		hint = fmt.Sprintf(" did you mean %q?", rest)
	}
	return fmt.Sprintf("%s is not an absolute path;%s %s", quote(s), hint, want)
}

// cleanAbs is path.Clean of a path that is set, "" when it is not.
func cleanAbs(p string) string {
	if p == "" {
		return ""
	}
	return path.Clean(p)
}

// checkLoadBalancers checks the load balancers against the environment's hosts and each
// other, fills their listen addresses, and returns the valid ones. A host missing from a
// hosts_file depends on this machine's copy of the file, so that error is deferred with
// the file's own.
func (l *appLoader) checkLoadBalancers(env *Environment, lbs []lbEntry, fromFile bool, deferred *ErrorList) []LoadBalancerSpec {
	hosts := map[string]HostSpec{}
	names := make([]string, 0, len(env.Hosts))
	for _, h := range env.Hosts {
		hosts[h.Name] = h
		names = append(names, h.Name)
	}
	var kept []lbEntry
	byName := map[string]lbEntry{}
	for _, e := range lbs {
		if first, dup := byName[e.spec.Name]; dup {
			l.d.at(joinPath(e.path, "name"), "load balancer name %s is used twice in environment %s (first at %s); load balancer names must be unique",
				quote(e.spec.Name), env.Name, l.where(first, "name"))
			continue
		}
		byName[e.spec.Name] = e
		h, ok := hosts[e.spec.Host]
		if !ok {
			l.unknownLBHost(env, e, names, fromFile, deferred)
			continue
		}
		if e.badListen {
			continue
		}
		if e.spec.Listen == "" {
			e.spec.Listen = net.JoinHostPort(h.Address, "80")
		}
		if l.listenTaken(e, kept) {
			continue
		}
		kept = append(kept, e)
	}
	out := make([]LoadBalancerSpec, len(kept))
	for i, e := range kept {
		out[i] = e.spec
	}
	return out
}

// unknownLBHost reports a load balancer on a host the environment does not have.
func (l *appLoader) unknownLBHost(env *Environment, e lbEntry, names []string, fromFile bool, deferred *ErrorList) {
	if len(names) == 0 {
		return // the environment's missing hosts are reported with it
	}
	p := joinPath(e.path, "host")
	msg := fmt.Sprintf("host %s is not one of environment %s's hosts;%s valid: %s", quote(e.spec.Host), env.Name, suggest(e.spec.Host, names), nameList(names))
	if !fromFile {
		l.d.at(p, "%s", msg)
		return
	}
	n := l.d.node(p)
	*deferred = append(*deferred, &Error{File: l.d.file, Line: n.Line, Column: n.Column, Path: p, Msg: msg})
}

// listenTaken reports e's listen address when a load balancer kept before it listens there
// on the same host: the second could not bind it. An unspecified address (0.0.0.0, ::)
// takes the port on every address.
func (l *appLoader) listenTaken(e lbEntry, kept []lbEntry) bool {
	host, port, _ := net.SplitHostPort(e.spec.Listen)
	for _, k := range kept {
		kh, kp, _ := net.SplitHostPort(k.spec.Listen)
		if k.spec.Host != e.spec.Host || atoi(kp) != atoi(port) {
			continue
		}
		if strings.EqualFold(kh, host) || unspecified(kh) || unspecified(host) {
			l.d.at(joinPath(e.path, "listen"), "listen %s on host %s clashes with load balancer %s's %s (%s); give each load balancer on a host its own port or address",
				e.spec.Listen, e.spec.Host, k.spec.Name, k.spec.Listen, l.where(k, "name"))
			return true
		}
	}
	return false
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func unspecified(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// where is FILE:LINE of one of a load balancer's keys (or of the entry, when it has not the key).
func (l *appLoader) where(e lbEntry, key string) string {
	return fmt.Sprintf("%s:%d", l.d.file, l.d.node(joinPath(e.path, key)).Line)
}
