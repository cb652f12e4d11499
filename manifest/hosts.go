package manifest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var hostNamePattern = regexp.MustCompile(`^[a-z0-9-]+$`)

const urlWant = "want unix:///absolute/path/podman.sock or ssh://user@host[:port]/absolute/path/podman.sock"

// hostEntry is a decoded host with where it came from, for duplicate-name errors.
type hostEntry struct {
	spec HostSpec
	d    *decoder
	path string
}

// hostList decodes a list of hosts. It returns an entry for every item, valid or not, so the
// caller can tell "no hosts given" from "hosts given with errors".
func (l *appLoader) hostList(d *decoder, n *yaml.Node, path string) []hostEntry {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "found %s; want a list of hosts such as - {name: h1, url: unix:///run/podman/podman.sock}", describe(n))
		return nil
	}
	var out []hostEntry
	for i, item := range n.Content {
		p := indexPath(path, i)
		d.nodes[p] = item
		out = append(out, hostEntry{spec: l.host(d, deref(item), p), d: d, path: p})
	}
	return out
}

// host decodes one host and fills in what it leaves out.
func (l *appLoader) host(d *decoder, n *yaml.Node, path string) HostSpec {
	var h HostSpec
	resources := func(dst *Resources, lo int) func(*yaml.Node, string) {
		return func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{
				{"cpu", func(n *yaml.Node, p string) {
					v, _ := d.intRange(n, p, lo, -1, " ECS units (1024 = 1 vCPU)")
					dst.CPU = int64(v)
				}},
				{"memory", func(n *yaml.Node, p string) {
					v, _ := d.intRange(n, p, lo, -1, " MiB")
					dst.Memory = int64(v)
				}},
			})
		}
	}
	str := func(dst *string) func(*yaml.Node, string) {
		return func(n *yaml.Node, p string) { *dst, _ = d.str(n, p) }
	}
	d.mapping(n, path, []field{
		{"name", str(&h.Name)},
		{"url", str(&h.URL)},
		{"address", str(&h.Address)},
		{"identity", str(&h.Identity)},
		{"known_hosts", str(&h.KnownHosts)},
		{"attributes", func(n *yaml.Node, p string) {
			h.Attributes = d.stringMap(n, p, func(k string) string {
				if strings.TrimSpace(k) == "" {
					return "an attribute name is empty; want a name such as zone"
				}
				return ""
			})
		}},
		{"reserved", resources(&h.Reserved, 0)},
		{"capacity", func(n *yaml.Node, p string) {
			h.Capacity = &Resources{}
			resources(h.Capacity, 1)(n, p)
		}},
	})
	if n.Kind != yaml.MappingNode {
		return h
	}
	switch {
	case !d.has(joinPath(path, "name")):
		d.at(joinPath(path, "name"), "the host has no name; want name: <name>, such as name: h1")
	case !hostNamePattern.MatchString(h.Name):
		d.at(joinPath(path, "name"), "%s is not a valid host name; want lowercase letters, digits and -", quote(h.Name))
	}
	if !d.has(joinPath(path, "url")) {
		d.at(joinPath(path, "url"), "the host has no url; %s", urlWant)
		return h
	}
	if p := l.fillHost(&h); p.text != "" {
		d.at(joinPath(path, p.path), "%s", p.text)
		return h
	}
	l.checkHost(d, &h, path)
	return h
}

// checkHost checks what fillHost leaves: the address, the reserved resources against the
// capacity, and that the ssh key exists.
func (l *appLoader) checkHost(d *decoder, h *HostSpec, path string) {
	if d.has(joinPath(path, "address")) && !validAddress(h.Address) {
		d.at(joinPath(path, "address"), "%s is not an IP address or a host name; want one such as 10.0.0.5 or web-1.example.com, without a scheme or a port", quote(h.Address))
	}
	if c := h.Capacity; c != nil {
		for _, r := range []struct {
			key                string
			reserved, capacity int64
		}{{"cpu", h.Reserved.CPU, c.CPU}, {"memory", h.Reserved.Memory, c.Memory}} {
			if r.capacity > 0 && r.reserved > r.capacity {
				d.at(joinPath(path, "reserved."+r.key), "%d reserved is more than the host's %s capacity of %d, which leaves nothing to place tasks on; want reserved below capacity",
					r.reserved, r.key, r.capacity)
			}
		}
	}
	if h.Identity != "" && l.deferred != nil {
		l.checkIdentity(d, h, joinPath(path, "identity"))
	}
}

// checkIdentity reports a missing ssh key. It depends on the machine deck runs on, so it is
// deferred: deploying to test must not need prod's key.
func (l *appLoader) checkIdentity(d *decoder, h *HostSpec, path string) {
	fi, err := os.Stat(h.Identity)
	var reason string
	switch {
	case err != nil:
		reason = statReason(err)
	case fi.IsDir():
		reason = "is a directory"
	default:
		return
	}
	n := d.node(path)
	key := clip(n.Value)
	if n.Value != h.Identity {
		key += " (" + h.Identity + ")"
	}
	*l.deferred = append(*l.deferred, &Error{File: d.file, Line: n.Line, Column: n.Column, Path: path,
		Msg: fmt.Sprintf("ssh key %s %s; want the private key that logs in to host %s", key, reason, h.Name)})
}

// uniqueHosts returns the hosts, reporting a name or a Podman endpoint used twice: two
// entries for one Podman would have it counted, and filled, twice over.
func uniqueHosts(env string, hosts []hostEntry) []HostSpec {
	var out []HostSpec
	byName, byURL := map[string]hostEntry{}, map[string]hostEntry{}
	for _, h := range hosts {
		if h.spec.Name == "" {
			continue
		}
		if first, dup := byName[h.spec.Name]; dup {
			h.d.at(joinPath(h.path, "name"), "host name %s is used twice in environment %s (first at %s); host names must be unique",
				quote(h.spec.Name), env, first.where("name"))
			continue
		}
		byName[h.spec.Name] = h
		if key := endpoint(h.spec.URL); key != "" {
			if first, dup := byURL[key]; dup {
				h.d.at(joinPath(h.path, "url"), "host %s has the same url as host %s (%s); each host must be a different Podman endpoint",
					h.spec.Name, first.spec.Name, first.where("url"))
				continue
			}
			byURL[key] = h
		}
		out = append(out, h.spec)
	}
	return out
}

// where is FILE:LINE of one of the entry's keys.
func (h hostEntry) where(key string) string {
	return fmt.Sprintf("%s:%d", h.d.file, h.d.node(joinPath(h.path, key)).Line)
}

// endpoint is a host URL with what does not change the endpoint made the same (the default
// ssh port, the host name's case, a trailing slash), or "" for a URL that is not valid.
func endpoint(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return ""
	}
	port := u.Port()
	if u.Scheme == "ssh" && port == "" {
		port = "22"
	}
	return u.Scheme + "://" + u.User.Username() + "@" + strings.ToLower(u.Hostname()) + ":" + port + path.Clean("/"+u.Path)
}

// validAddress reports whether a is an IP address or a DNS host name (any case, with or
// without the root's trailing dot).
func validAddress(a string) bool {
	return net.ParseIP(a) != nil || isDNSName(strings.ToLower(strings.TrimSuffix(a, ".")))
}

type hostProblem struct{ path, text string }

// fillHost checks a host's URL and fills Address, Identity and KnownHosts, resolving ~ and
// paths relative to deck.yaml's directory. It returns the first problem, by the key it is about.
func (l *appLoader) fillHost(h *HostSpec) hostProblem {
	u, err := url.Parse(h.URL)
	if err != nil {
		return hostProblem{"url", fmt.Sprintf("%s is not a URL; %s", quote(h.URL), urlWant)}
	}
	switch u.Scheme {
	case "unix":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return hostProblem{"url", fmt.Sprintf("%s does not hold an absolute socket path; %s (note the three slashes)", quote(h.URL), urlWant)}
		}
		if h.Identity != "" {
			return hostProblem{"identity", "identity applies only to ssh:// hosts; remove it, or use an ssh:// url"}
		}
		if h.KnownHosts != "" {
			return hostProblem{"known_hosts", "known_hosts applies only to ssh:// hosts; remove it, or use an ssh:// url"}
		}
		if h.Address == "" {
			h.Address = "127.0.0.1"
		}
		return hostProblem{}
	case "ssh":
		if u.User == nil || u.User.Username() == "" || u.Hostname() == "" || !strings.HasPrefix(u.Path, "/") {
			return hostProblem{"url", fmt.Sprintf("%s needs a user, a host and an absolute socket path; %s", quote(h.URL), urlWant)}
		}
		if _, hasPass := u.User.Password(); hasPass {
			return hostProblem{"url", fmt.Sprintf("the url of host %s holds a password; remove it and use identity: <ssh key file>", h.Name)}
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return hostProblem{"url", fmt.Sprintf("%s has port %s; want a port from 1 to 65535", quote(h.URL), clip(p))}
			}
		}
		if h.Identity == "" {
			return hostProblem{"identity", fmt.Sprintf("an ssh:// host needs identity: <private key file>, such as identity: ~/.ssh/deck (host %s)", h.Name)}
		}
		var msg string
		if h.Identity, msg = l.localPath(h.Identity); msg != "" {
			return hostProblem{"identity", msg}
		}
		if h.KnownHosts == "" {
			h.KnownHosts = "~/.ssh/known_hosts"
		}
		if h.KnownHosts, msg = l.localPath(h.KnownHosts); msg != "" {
			return hostProblem{"known_hosts", msg}
		}
		if h.Address == "" {
			h.Address = u.Hostname()
		}
		return hostProblem{}
	}
	return hostProblem{"url", fmt.Sprintf("%s has scheme %s; %s", quote(h.URL), quote(u.Scheme), urlWant)}
}

// localPath makes a path on deck's machine absolute: ~ is the home directory, and a relative
// path is relative to deck.yaml's directory, so deck behaves the same from any working directory.
func (l *appLoader) localPath(p string) (string, string) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, ok := l.app.lookupEnv("HOME")
		if !ok || home == "" {
			var err error
			if home, err = os.UserHomeDir(); err != nil {
				return "", fmt.Sprintf("%s starts with ~ but the home directory is unknown; set HOME or give an absolute path", quote(p))
			}
		}
		return filepath.Join(home, strings.TrimPrefix(p, "~")), ""
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p), ""
	}
	return filepath.Join(l.app.Dir, p), ""
}
