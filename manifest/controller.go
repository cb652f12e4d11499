package manifest

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ControllerSpec is how `deck controller` runs an environment: deck.yaml's
// environments.<env>.controller, with defaults filled.
type ControllerSpec struct {
	// Leader is how the environment's controllers choose the one that acts: LeaderHosts
	// (a lease kept on the environment's own hosts; the default) or LeaderEtcd.
	Leader string `json:"leader"`
	// Etcd is the etcd cluster that keeps the lease when Leader is LeaderEtcd.
	Etcd EtcdSpec `json:"etcd,omitzero"`
	// Lease is the leader's lease: a standby takes over at most about one lease after the
	// leader dies (and within two).
	Lease time.Duration `json:"lease"`
	// HostGrace is how long a host may be unreachable before its tasks are placed on others.
	HostGrace time.Duration `json:"host_grace"`
	// Resync is the period of the full reconcile that backs up the event streams.
	Resync time.Duration `json:"resync"`
}

// EtcdSpec is an etcd cluster deck reaches as a client.
type EtcdSpec struct {
	// Endpoints are the members' client URLs, http://HOST:PORT.
	Endpoints []string `json:"endpoints"`
}

// Leader election backends.
const (
	LeaderHosts = "hosts"
	LeaderEtcd  = "etcd"
)

var leaderKinds = []string{LeaderHosts, LeaderEtcd}

// Bounds of the controller's durations. A lease under 3s leaves no room for the
// renewals (every third of it) and the margin the holder keeps (the hosts' clocks read
// to the second).
const (
	MinLease = 3 * time.Second
	maxLease = 10 * time.Minute
)

// DefaultController is the controller's settings when deck.yaml says nothing.
func DefaultController() ControllerSpec {
	return ControllerSpec{Leader: LeaderHosts, Lease: 15 * time.Second, HostGrace: 15 * time.Second, Resync: 30 * time.Second}
}

// controller decodes environments.<env>.controller over the defaults in c.
func (l *appLoader) controller(c *ControllerSpec) func(*yaml.Node, string) {
	return func(n *yaml.Node, p string) {
		d := l.d
		d.mapping(n, p, []field{
			{"leader", func(n *yaml.Node, p string) {
				if v, ok := d.str(n, p); ok {
					if msg := checkLeader(v); msg != "" {
						d.errorf(n, p, "%s", msg)
						return
					}
					c.Leader = v
				}
			}},
			{"etcd", func(n *yaml.Node, p string) {
				d.mapping(n, p, []field{{"endpoints", func(n *yaml.Node, p string) { c.Etcd.Endpoints = l.endpoints(n, p) }}})
			}},
			{"lease", func(n *yaml.Node, p string) { c.Lease, _ = d.durationIn(n, p, MinLease, maxLease, c.Lease) }},
			{"host_grace", func(n *yaml.Node, p string) { c.HostGrace, _ = d.durationIn(n, p, time.Second, time.Hour, c.HostGrace) }},
			{"resync", func(n *yaml.Node, p string) { c.Resync, _ = d.durationIn(n, p, time.Second, time.Hour, c.Resync) }},
		})
		l.checkController(c, n, p)
	}
}

// checkController checks the fields against each other: etcd needs endpoints, and
// endpoints without etcd are most likely a forgotten leader: etcd.
func (l *appLoader) checkController(c *ControllerSpec, n *yaml.Node, p string) {
	if n.Kind != yaml.MappingNode {
		return
	}
	d := l.d
	etcd := joinPath(p, "etcd")
	switch {
	case c.Leader == LeaderEtcd && !d.has(joinPath(etcd, "endpoints")):
		d.at(joinPath(etcd, "endpoints"), "leader etcd needs the etcd cluster's endpoints; want etcd: {endpoints: [http://10.0.0.1:2379]}")
	case c.Leader != LeaderEtcd && d.has(etcd):
		d.at(etcd, "etcd is set but the leader is elected on the hosts (leader: %s); add leader: etcd to use it, or remove etcd", c.Leader)
	}
}

// endpoints decodes etcd.endpoints: a non-empty list of http://HOST:PORT. Every entry is
// checked, so all the bad ones are reported at once.
func (l *appLoader) endpoints(n *yaml.Node, p string) []string {
	d := l.d
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, p, "found %s; want a list of the etcd members' client URLs, such as [http://10.0.0.1:2379]", describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		d.errorf(n, p, "the list is empty; want the etcd members' client URLs, such as [http://10.0.0.1:2379]")
		return nil
	}
	var out []string
	for i, item := range n.Content {
		ip := indexPath(p, i)
		d.nodes[ip] = item
		v, ok := d.str(deref(item), ip)
		if !ok {
			continue
		}
		if msg := checkEndpoint(v); msg != "" {
			d.errorf(item, ip, "%s", msg)
			continue
		}
		out = append(out, v)
	}
	if len(out) < len(n.Content) {
		return nil
	}
	return out
}

func checkLeader(s string) string {
	if s == LeaderHosts || s == LeaderEtcd {
		return ""
	}
	return fmt.Sprintf("%s is not a way to elect the leader;%s want %s (a lease on the environment's hosts, the default) or %s (an etcd cluster)",
		quote(s), suggest(s, leaderKinds), LeaderHosts, LeaderEtcd)
}

// checkEndpoint validates one etcd client URL. Only http for now: deck has no settings
// yet for the certificates https would need.
func checkEndpoint(s string) string {
	const want = "want http://HOST:PORT, such as http://10.0.0.1:2379"
	u, err := url.Parse(s)
	switch {
	case !strings.Contains(s, "://"):
		return fmt.Sprintf("%s has no scheme; %s", quote(s), want)
	case err != nil || u.Host == "":
		return fmt.Sprintf("%s is not a URL; %s", quote(s), want)
	case u.Scheme == "https":
		return fmt.Sprintf("%s uses https, which deck does not support for etcd yet (it has no certificate settings); %s", quote(s), want)
	case u.Scheme != "http":
		return fmt.Sprintf("%s has scheme %s; %s", quote(s), quote(u.Scheme), want)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
		return fmt.Sprintf("%s has more than a host and a port; %s", quote(s), want)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return fmt.Sprintf("%s has no port; %s", quote(s), want)
	}
	if v, err := strconv.Atoi(port); err != nil || v < 1 || v > 65535 || strings.TrimSpace(port) != port {
		return fmt.Sprintf("%s has port %s; want a port from 1 to 65535", quote(s), quote(port))
	}
	return ""
}
