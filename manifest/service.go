package manifest

import (
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// serviceKeys are the top-level keys of a service manifest, in the order they are listed
// to a user who misspelt one.
var serviceKeys = []string{"name", "type", "image", "command", "entrypoint", "cpu", "memory", "count",
	"variables", "secrets", "healthcheck", "http", "deployment", "placement", "stop_timeout", "labels",
	"volumes", "logging", "on", "schedule", "retries", "timeout", "concurrency", "environments"}

// LoadServices reads every service manifest of the app for env (overrides applied) and
// returns them sorted by name. env is resolved as App.Environment resolves it. Problems that
// depend on this machine and would fail the deploy (an unset from_env variable, a missing
// secret file or Containerfile) are reported too, at the line that names them; when they
// are the only problems, the services are returned with the error, since deck status,
// which only shows their counts, needs no secret.
func LoadServices(app *App, env string, lookupEnv func(string) (string, bool)) ([]ServiceSpec, error) {
	e, err := app.Environment(env)
	if err != nil {
		return nil, err
	}
	specs, errs, onlyLocal := loadServices(app, e.Name, e.Hosts, lookupEnv)
	if err := errs.err(); err != nil {
		if onlyLocal {
			return specs, err
		}
		return nil, err
	}
	return specs, nil
}

// Load is LoadApp, Environment and LoadServices in one call, with every error of the app
// file and the service files collected into one ErrorList when the files can be read.
func Load(path, env string, lookupEnv func(string) (string, bool)) (*App, *Environment, []ServiceSpec, error) {
	app, errs := loadApp(path, lookupEnv)
	if app == nil {
		return nil, nil, nil, errs.err()
	}
	e, err := app.Environment(env)
	var hosts []HostSpec
	if err != nil {
		errs = append(errs, asList(err)...)
		// Without an environment the services can still be checked, without its hosts, so
		// their errors are reported in the same run.
		e = &Environment{Name: env}
	} else {
		hosts = e.Hosts
	}
	specs, serr, _ := loadServices(app, e.Name, hosts, lookupEnv)
	errs = append(errs, serr...)
	if err := errs.err(); err != nil {
		return nil, nil, nil, err
	}
	return app, e, specs, nil
}

// loadServices loads the services for env, which has hosts (none: unknown). onlyLocal
// is true when every problem is one of this machine's (see checkLocal).
func loadServices(app *App, env string, hosts []HostSpec, lookupEnv func(string) (string, bool)) ([]ServiceSpec, ErrorList, bool) {
	sl := newServicesLoader(app, lookupEnv)
	specs, errs, local := sl.load(env, hosts)
	return specs, append(append(sl.errs, errs...), local...), len(sl.errs)+len(errs) == 0
}

// servicesLoader loads the services for one environment after another. Each file is read,
// and its environment-independent problems reported, once.
type servicesLoader struct {
	app    *App
	lookup func(string) (string, bool)
	files  []*serviceFile
	errs   ErrorList // the problems that are the same in every environment
	// strict adds the checks deck validate makes and loading does not (see checkBuild).
	strict bool
}

// serviceFile is a service manifest as parsed, with aliases and merge keys expanded. root
// is never modified: each environment decodes a copy.
type serviceFile struct {
	display string
	root    *yaml.Node
}

func newServicesLoader(app *App, lookupEnv func(string) (string, bool)) *servicesLoader {
	if lookupEnv == nil {
		lookupEnv = app.lookupEnv
	}
	sl := &servicesLoader{app: app, lookup: lookupEnv, errs: append(ErrorList(nil), app.fileErrs...)}
	for _, rel := range app.ServiceFiles {
		if f := sl.readFile(rel); f != nil {
			sl.files = append(sl.files, f)
		}
	}
	return sl
}

// readFile parses one manifest and checks what does not depend on the environment. It
// returns nil when the file gives nothing to decode.
func (sl *servicesLoader) readFile(rel string) *serviceFile {
	display := filepath.Join(filepath.Dir(sl.app.File), rel)
	root, perr := parseFile(display, filepath.Join(sl.app.Dir, rel))
	if perr != nil {
		sl.errs = append(sl.errs, perr)
		return nil
	}
	if root == nil {
		sl.errs = append(sl.errs, &Error{File: display, Msg: "the file is empty; want a service manifest with at least name, type and image (deck init writes one)"})
		return nil
	}
	d := newDecoder(display, &sl.errs)
	root = d.flatten(root)
	dropExtensions(root)
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "", "found %s; want a map with keys %s", describe(root), strings.Join(serviceKeys, ", "))
		return nil
	}
	if envs := lookupKey(root, "environments"); envs != nil && !isNull(envs) {
		sl.checkOverrideNames(d, envs)
	}
	return &serviceFile{display: display, root: root}
}

// appFileName is the app file's name as the user gave it (deck.yaml unless --file).
func (sl *servicesLoader) appFileName() string {
	if sl.app.File == "" {
		return "deck.yaml"
	}
	return filepath.Base(sl.app.File)
}

// checkOverrideNames checks that every environment a manifest overrides is in the app file.
func (sl *servicesLoader) checkOverrideNames(d *decoder, envs *yaml.Node) {
	valid := sl.app.EnvironmentNames()
	if len(valid) == 0 {
		valid = []string{LocalEnvironment}
	}
	declared := map[string]bool{}
	for _, v := range valid {
		declared[v] = true
	}
	d.pairs(envs, "environments", "a map of environment names to the keys they override", func(k, _ *yaml.Node, kp string) {
		if !declared[k.Value] {
			d.errorf(k, kp, "environment %s is not in %s;%s valid: %s", quote(k.Value), sl.appFileName(), suggest(k.Value, valid), nameList(valid))
		}
	})
}

// load decodes every file for env, which has hosts (none: unknown, as when the
// environment has errors). local holds the problems of this machine (see checkLocal).
func (sl *servicesLoader) load(env string, hosts []HostSpec) (specs []ServiceSpec, errs, local ErrorList) {
	first := map[string]*decoder{}
	var routes routeTable
	for _, f := range sl.files {
		s := sl.loadService(f, env, hosts, &errs, &local)
		if s.spec.Name != "" {
			if other, dup := first[s.spec.Name]; dup {
				s.at("name", "service %s is also defined in %s:%d; service names must be unique across files",
					quote(s.spec.Name), other.file, other.node("name").Line)
				continue
			}
			first[s.spec.Name] = s.decoder
		}
		routes.add(s)
		specs = append(specs, s.spec)
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Name < specs[j].Name })
	return specs, errs, local
}

// serviceLoader decodes one service manifest into spec.
type serviceLoader struct {
	*decoder
	app  *App
	spec ServiceSpec
	// hosts are the environment's hosts; none when they are unknown.
	hosts  []HostSpec
	lookup func(string) (string, bool)
	strict bool
	// rolling is the deployment preset as written, kept until the percents are known.
	rolling string
	// badPercent is set when a rolling limit was reported as wrong.
	badPercent bool
}

// loadService decodes a copy of one manifest for env, reporting to errs, and what this
// machine lacks to local.
func (sl *servicesLoader) loadService(f *serviceFile, env string, hosts []HostSpec, errs, local *ErrorList) *serviceLoader {
	s := &serviceLoader{decoder: newDecoder(f.display, errs), app: sl.app, hosts: hosts, lookup: sl.lookup, strict: sl.strict}
	v := vars{lookup: sl.lookup}.with("DECK_APP", sl.app.Name).with("DECK_ENV", env)
	if n := lookupKey(f.root, "name"); n != nil && n.Kind == yaml.ScalarNode {
		// The name as it will be: name: ${SVC:-api} gives DECK_SERVICE the value, not
		// the text (an error in it is reported where the name is decoded).
		name, err := expand(n.Value, v)
		if err != nil {
			name = n.Value
		}
		v = v.with("DECK_SERVICE", name)
	}
	// The chosen environment's override is merged in before ${VAR} is expanded, and only the
	// merged document is expanded: deploying to test needs neither prod's variables nor those
	// of a base value test replaces. Errors still point at the node holding the ${VAR}, with
	// the override's path when it came from the override (see override and errorf).
	base := *f.root
	base.Content = nil
	for i := 0; i+1 < len(f.root.Content); i += 2 {
		if f.root.Content[i].Value != "environments" {
			base.Content = append(base.Content, copyTree(f.root.Content[i]), copyTree(f.root.Content[i+1]))
		}
	}
	doc := &base
	if over := s.override(lookupKey(f.root, "environments"), env); over != nil {
		doc = merge(&base, over, "")
	}
	s.interpolateMerged(doc, v)
	s.nodes[""] = doc

	s.spec = defaults(s.workloadType(doc))
	s.spec.App, s.spec.Env, s.spec.File = sl.app.Name, env, f.display
	s.decode(doc)
	s.validate()
	s.errs = local
	s.checkLocal()
	s.errs = errs
	return s
}

// override returns a copy of the chosen environment's block, marked so that errors in it
// (${VAR} ones included) point at it. Whether the names under environments are in deck.yaml
// was checked once for the file (checkOverrideNames).
func (s *serviceLoader) override(envs *yaml.Node, env string) *yaml.Node {
	if envs == nil || envs.Kind != yaml.MappingNode {
		return nil
	}
	i := keyIndex(envs, env)
	if i < 0 || isNull(envs.Content[i+1]) {
		return nil
	}
	n, kp := envs.Content[i+1], joinPath("environments", env)
	if n.Kind != yaml.MappingNode {
		s.errorf(n, kp, "found %s; want a map of the keys to override, such as count: 3", describe(n))
		return nil
	}
	over := *n
	over.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		if slices.Contains([]string{"name", "type", "environments"}, key.Value) {
			s.errorf(key, joinPath(kp, key.Value), "%s cannot differ between environments; set it once at the top of the file", key.Value)
			continue
		}
		over.Content = append(over.Content, copyTree(key), copyTree(n.Content[i+1]))
	}
	s.nullsIn(&over, kp)
	s.overridden = map[*yaml.Node]bool{}
	markAll(&over, s.overridden)
	s.prefix = kp + "."
	return &over
}

// nullsIn reports the null values of an override. In the base a null keeps the default;
// in an override it replaces the base's value with that default, which a count: ~ meant as
// "as in the base" would do silently.
func (s *serviceLoader) nullsIn(n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := joinPath(path, k.Value)
		if isNull(v) {
			at := v
			if v.Value == "" {
				at = k // `count:` with nothing after it: point at the key
			}
			s.errorf(at, p, "a null value in an override resets %s to deck's default, not to the base's value; remove the key to keep the base's value, or give a value", clip(k.Value))
			continue
		}
		s.nullsIn(v, p)
	}
}

// workloadType reads type before anything else, because the type decides the defaults the
// rest of the document is decoded over (as Copilot does).
func (s *serviceLoader) workloadType(doc *yaml.Node) WorkloadType {
	n := lookupKey(doc, "type")
	if n == nil || isNull(n) {
		s.at("type", "the service has no type; want type: one of %s", quoteList(WorkloadTypes))
		return ""
	}
	if n.Kind == yaml.ScalarNode {
		for _, t := range WorkloadTypes {
			if n.Value == string(t) {
				return t
			}
		}
	}
	names := make([]string, len(WorkloadTypes))
	for i, t := range WorkloadTypes {
		names[i] = string(t)
	}
	var hint string
	if n.Kind == yaml.ScalarNode {
		hint = suggest(n.Value, names)
	}
	s.errorf(n, "type", "%s is not a workload type;%s want one of %s", describe(n), hint, quoteList(WorkloadTypes))
	return ""
}

// Defaults every service starts from, before its type's and its document's.
const (
	defaultCPU         = 256
	defaultMemory      = 512
	defaultStopTimeout = 10 * time.Second
)

// defaults is a service of type t before its document is read. An unknown type ("") gets the
// common defaults so the rest of the document can still be checked.
func defaults(t WorkloadType) ServiceSpec {
	return ServiceSpec{
		Type:       t,
		Task:       TaskDef{CPU: defaultCPU, Memory: defaultMemory, StopTimeout: defaultStopTimeout},
		Count:      Count{Value: 1},
		Deployment: rollingPresets["default"],
		Placement:  Placement{Strategy: "spread"},
	}
}

// defaultHealthcheck is the probe a Load Balanced Web Service gets, and the values a partly
// written healthcheck is filled from.
func defaultHealthcheck() Healthcheck {
	return Healthcheck{Interval: 10 * time.Second, Timeout: 5 * time.Second, Retries: 2}
}

// rollingPresets are the deployment.rolling values, as ECS's rolling-update limits, with
// the circuit breaker's defaults.
var rollingPresets = map[string]Deployment{
	"default":  {Strategy: "default", MinHealthyPercent: 100, MaxPercent: 200, MinHealthyTime: defaultMinHealthyTime, CircuitBreaker: defaultBreaker},
	"recreate": {Strategy: "recreate", MinHealthyPercent: 0, MaxPercent: 100, MinHealthyTime: defaultMinHealthyTime, CircuitBreaker: defaultBreaker},
}

// defaultMinHealthyTime is deployment.min_healthy_time's default: Docker Swarm's update
// monitor. It adds itself once to each wave of a rollout, since a wave's tasks wait together.
const defaultMinHealthyTime = 5 * time.Second

// defaultBreaker is ECS's: the threshold follows the count, and a tripped rollout rolls back.
var defaultBreaker = CircuitBreaker{Rollback: true}
