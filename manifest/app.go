package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

const (
	// DefaultServiceGlob is where service manifests live when deck.yaml does not say.
	DefaultServiceGlob = "deck/*.yaml"
	// LocalEnvironment names the implicit environment used when deck.yaml configures none.
	LocalEnvironment = "local"
)

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// checkName validates an app, environment or service name: these become parts of container,
// network and volume names, so they are kept to what every one of those accepts.
func checkName(s, what string) string {
	if s == "" {
		return fmt.Sprintf("the %s name is empty; want lowercase letters, digits and -, starting with a letter", what)
	}
	if !namePattern.MatchString(s) || len(s) > 40 {
		return fmt.Sprintf("%s is not a valid %s name; want lowercase letters, digits and -, starting with a letter, at most 40 characters", quote(s), what)
	}
	return ""
}

// LoadApp reads deck.yaml. lookupEnv is used for ${VAR} (nil = os.LookupEnv). When the file
// has problems the error is an ErrorList holding all of them.
func LoadApp(path string, lookupEnv func(string) (string, bool)) (*App, error) {
	app, errs := loadApp(path, lookupEnv)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return app, nil
}

// appLoader holds what decoding deck.yaml and its hosts files needs.
type appLoader struct {
	app  *App
	d    *decoder
	errs *ErrorList
	vars vars
	// appInfo is deck.yaml's, so a services glob that matches it can leave it out.
	appInfo os.FileInfo
	// deferred collects, while an environment's hosts are decoded, the problems that depend
	// on this machine (a missing ssh key), reported only when that environment is used.
	deferred *ErrorList
}

// loadApp returns the app even when it has errors (nil only when the file could not be
// parsed), so Load can go on and report the services' errors in the same run.
func loadApp(path string, lookupEnv func(string) (string, bool)) (*App, ErrorList) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, ErrorList{{File: path, Msg: err.Error()}}
	}
	root, perr := parseFile(path, abs)
	if perr != nil {
		return nil, ErrorList{perr}
	}
	if root == nil {
		return nil, ErrorList{{File: path, Msg: "the file is empty; want at least `app: <name>`"}}
	}
	var errs ErrorList
	root = newDecoder(path, &errs).flatten(root)
	dropExtensions(root)
	l := &appLoader{
		app: &App{
			File: path, Dir: filepath.Dir(abs), Environments: map[string]*Environment{},
			lookupEnv: lookupEnv, deferred: map[string]ErrorList{},
		},
		d:    newDecoder(path, &errs),
		errs: &errs,
		vars: vars{lookup: lookupEnv},
	}
	l.appInfo, _ = os.Stat(abs)
	l.d.nodes[""] = root
	if n := lookupKey(root, "app"); n != nil && n.Kind == yaml.ScalarNode {
		l.vars = l.vars.with("DECK_APP", n.Value)
	}
	if root.Kind == yaml.MappingNode {
		// Environments are expanded one by one in environment(), with DECK_ENV set.
		for i := 0; i+1 < len(root.Content); i += 2 {
			if k := root.Content[i].Value; k != "environments" {
				l.d.interpolate(root.Content[i+1], k, l.vars)
			}
		}
	}
	var patterns []string
	l.d.mapping(root, "", []field{
		{"app", func(n *yaml.Node, p string) {
			if s, ok := l.d.str(n, p); ok {
				if msg := checkName(s, "app"); msg != "" {
					l.d.errorf(n, p, "%s", msg)
				}
				l.app.Name = s
			}
		}},
		{"services", func(n *yaml.Node, p string) {
			patterns, _ = l.d.stringList(n, p)
		}},
		{"environments", func(n *yaml.Node, p string) {
			l.d.pairs(n, p, "a map of environment names, each with hosts or hosts_file", func(k, v *yaml.Node, kp string) {
				if msg := checkName(k.Value, "environment"); msg != "" {
					l.d.errorf(k, kp, "%s", msg)
					return
				}
				l.environment(k.Value, k, v, kp)
			})
		}},
	})
	if root.Kind == yaml.MappingNode && !l.d.has("app") {
		l.d.at("app", "the app name is missing; want `app: <name>` at the top of the file")
	}
	l.app.ServiceFiles = l.serviceFiles(patterns)
	return l.app, errs
}

// environment decodes one environment. Problems that depend on the machine deck runs on
// (an unset ${VAR}, an unreadable hosts_file) are kept in app.deferred; the rest are
// reported now.
func (l *appLoader) environment(name string, key, n *yaml.Node, path string) {
	env := &Environment{Name: name, Controller: DefaultController()}
	l.app.Environments[name] = env
	v := l.vars.with("DECK_ENV", name)

	var deferred ErrorList
	ed := newDecoder(l.d.file, &deferred)
	ed.interpolate(n, path, v)
	// An unset ${VAR} (it may be set only where the environment is deployed from) waits
	// until the environment is chosen, and nothing is said about the text it left: those
	// values are not what deck would read. The rest of the environment is read now, as is
	// a hosts_file that is not on this machine: a typo in it must not pass deck validate
	// on a laptop, nor hide behind a variable that CI sets.
	for node := range ed.failed {
		if l.d.failed == nil {
			l.d.failed = map[*yaml.Node]bool{}
		}
		l.d.failed[node] = true
	}
	var fileHosts *yaml.Node
	var hostsDecoder *decoder
	hostsFileUnread := ed.failed[lookupKey(n, "hosts_file")]
	if !hostsFileUnread {
		unread := len(deferred)
		fileHosts, hostsDecoder = l.hostsFile(n, path, v, &deferred)
		hostsFileUnread = len(deferred) > unread
	}

	var hosts []hostEntry
	var lbs []lbEntry
	l.deferred = &deferred // where a missing identity file goes (see checkIdentity)
	if !isNull(n) {
		l.d.mapping(n, path, []field{
			{"hosts_file", func(n *yaml.Node, p string) { l.d.str(n, p) }},
			{"hosts", func(n *yaml.Node, p string) { hosts = append(hosts, l.hostList(l.d, n, p)...) }},
			{"load_balancers", func(n *yaml.Node, p string) { lbs = l.loadBalancerList(n, p) }},
			{"controller", l.controller(&env.Controller)},
		})
	}
	if fileHosts != nil {
		hosts = append(hosts, l.hostList(hostsDecoder, fileHosts, "")...)
	}
	l.deferred = nil
	if len(hosts) == 0 && !hostsFileUnread {
		l.d.errorf(key, path, "environment %s has no hosts; want hosts: [{name: h1, url: unix:///run/podman/podman.sock}] or hosts_file: <file>", name)
	}
	env.Hosts = uniqueHosts(name, hosts)
	env.LoadBalancers = l.checkLoadBalancers(env, lbs, fileHosts != nil || hostsFileUnread, &deferred)
	if len(deferred) > 0 {
		l.app.deferred[name] = deferred
	}
}

// hostsFile reads and expands the environment's hosts_file, if it names one. Its errors go
// to deferred: the file may exist only where that environment is deployed from.
func (l *appLoader) hostsFile(env *yaml.Node, envPath string, v vars, deferred *ErrorList) (*yaml.Node, *decoder) {
	n := lookupKey(env, "hosts_file")
	if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
		return nil, nil
	}
	display := n.Value
	abs := n.Value
	if !filepath.IsAbs(n.Value) {
		display = filepath.Join(filepath.Dir(l.app.File), n.Value)
		abs = filepath.Join(l.app.Dir, n.Value)
	}
	path := joinPath(envPath, "hosts_file")
	data, reason := readFile(abs)
	if reason != "" {
		if !strings.Contains(reason, ";") {
			reason += "; want a YAML list of hosts, relative to deck.yaml's directory"
		}
		*deferred = append(*deferred, &Error{File: l.d.file, Line: n.Line, Column: n.Column, Path: path,
			Msg: fmt.Sprintf("hosts file %s %s", display, reason)})
		return nil, nil
	}
	root, perr := parseYAML(display, data)
	if perr != nil {
		*deferred = append(*deferred, perr)
		return nil, nil
	}
	if root != nil {
		root = newDecoder(display, deferred).flatten(root)
	}
	if root == nil {
		*deferred = append(*deferred, &Error{File: display, Msg: "the hosts file is empty; want a list of hosts such as - {name: h1, url: ssh://deck@10.0.0.1/run/podman/podman.sock, identity: ~/.ssh/deck}"})
		return nil, nil
	}
	newDecoder(display, deferred).interpolate(root, "", v)
	hd := newDecoder(display, l.errs)
	hd.nodes[""] = root
	return root, hd
}

// ValidateName reports whether name is a valid app, environment or service name; what
// ("service") names it in the error. deck init uses it before writing a manifest.
func ValidateName(name, what string) error {
	if msg := checkName(name, what); msg != "" {
		return errors.New(msg)
	}
	return nil
}
