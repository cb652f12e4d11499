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
	"variables", "secrets", "healthcheck", "deployment", "placement", "stop_timeout", "labels",
	"volumes", "schedule", "environments"}

// LoadServices reads every service manifest of the app for env (overrides applied) and
// returns them sorted by name. env is resolved as App.Environment resolves it.
func LoadServices(app *App, env string, lookupEnv func(string) (string, bool)) ([]ServiceSpec, error) {
	e, err := app.Environment(env)
	if err != nil {
		return nil, err
	}
	specs, errs := loadServices(app, e.Name, lookupEnv)
	if err := errs.err(); err != nil {
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
	if err != nil {
		errs = append(errs, asList(err)...)
		// Without an environment the services can still be checked against the default one,
		// so their errors are reported in the same run.
		e = &Environment{Name: env}
	}
	specs, serr := loadServices(app, e.Name, lookupEnv)
	errs = append(errs, serr...)
	if err := errs.err(); err != nil {
		return nil, nil, nil, err
	}
	return app, e, specs, nil
}

func loadServices(app *App, env string, lookupEnv func(string) (string, bool)) ([]ServiceSpec, ErrorList) {
	if lookupEnv == nil {
		lookupEnv = app.lookupEnv
	}
	var errs ErrorList
	var specs []ServiceSpec
	first := map[string]*decoder{}
	for _, rel := range app.ServiceFiles {
		s, ok := loadService(app, env, rel, lookupEnv, &errs)
		if !ok {
			continue
		}
		if s.spec.Name != "" {
			if other, dup := first[s.spec.Name]; dup {
				s.at("name", "service %q is also defined in %s:%d; service names must be unique across files",
					s.spec.Name, other.file, other.node("name").Line)
				continue
			}
			first[s.spec.Name] = s.decoder
		}
		specs = append(specs, s.spec)
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Name < specs[j].Name })
	return specs, errs
}

// serviceLoader decodes one service manifest into spec.
type serviceLoader struct {
	*decoder
	app  *App
	spec ServiceSpec
	// rolling is the deployment preset as written, kept until the percents are known.
	rolling string
	// badPercent is set when a rolling limit was reported as wrong.
	badPercent bool
}

// loadService reads one manifest. ok is false when the file gave nothing to check further.
func loadService(app *App, env, rel string, lookupEnv func(string) (string, bool), errs *ErrorList) (*serviceLoader, bool) {
	display := filepath.Join(filepath.Dir(app.File), rel)
	root, perr := parseFile(display, filepath.Join(app.Dir, rel))
	if perr != nil {
		*errs = append(*errs, perr)
		return nil, false
	}
	if root == nil {
		*errs = append(*errs, &Error{File: display, Msg: "the file is empty; want a service manifest with at least name, type and image (deck init writes one)"})
		return nil, false
	}
	s := &serviceLoader{decoder: newDecoder(display, errs), app: app}
	s.nodes[""] = root
	if root.Kind != yaml.MappingNode {
		s.errorf(root, "", "found %s; want a map with keys %s", describe(root), strings.Join(serviceKeys, ", "))
		return nil, false
	}

	v := vars{lookup: lookupEnv}.with("DECK_APP", app.Name).with("DECK_ENV", env)
	if n := lookupKey(root, "name"); n != nil && n.Kind == yaml.ScalarNode {
		v = v.with("DECK_SERVICE", n.Value)
	}
	// The chosen environment's override is merged in before ${VAR} is expanded, and only the
	// merged document is expanded: deploying to test needs neither prod's variables nor those
	// of a base value test replaces. Errors still point at the node holding the ${VAR}, with
	// the override's path when it came from the override (see override and errorf).
	base := *root
	base.Content = nil
	var envs *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "environments" {
			envs = deref(root.Content[i+1])
			continue
		}
		base.Content = append(base.Content, root.Content[i], root.Content[i+1])
	}
	doc := &base
	if envs != nil && !isNull(envs) {
		s.nodes["environments"] = envs
		if over := s.override(envs, env); over != nil {
			doc = merge(&base, over, "")
		}
	}
	s.interpolateMerged(doc, v)
	s.nodes[""] = doc

	s.spec = defaults(s.workloadType(doc))
	s.spec.App, s.spec.Env, s.spec.File = app.Name, env, display
	s.decode(doc)
	s.validate()
	return s, true
}

// override checks every environment named under environments and returns the chosen
// environment's block, marked so that errors in it (${VAR} ones included) point at it.
func (s *serviceLoader) override(envs *yaml.Node, env string) *yaml.Node {
	valid := s.app.EnvironmentNames()
	if len(valid) == 0 {
		valid = []string{LocalEnvironment}
	}
	var chosen *yaml.Node
	s.pairs(envs, "environments", "a map of environment names to the keys they override", func(k, n *yaml.Node, kp string) {
		if !slices.Contains(valid, k.Value) {
			s.errorf(k, kp, "environment %q is not in deck.yaml;%s valid: %s", k.Value, suggest(k.Value, valid), strings.Join(valid, ", "))
			return
		}
		if k.Value != env || isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			s.errorf(n, kp, "found %s; want a map of the keys to override, such as count: 3", describe(n))
			return
		}
		over := *n
		over.Content = nil
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			if slices.Contains([]string{"name", "type", "environments"}, key.Value) {
				s.errorf(key, joinPath(kp, key.Value), "%s cannot differ between environments; set it once at the top of the file", key.Value)
				continue
			}
			over.Content = append(over.Content, key, n.Content[i+1])
		}
		s.overridden = map[*yaml.Node]bool{}
		markAll(&over, s.overridden)
		s.prefix = kp + "."
		chosen = &over
	})
	return chosen
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

// rollingPresets are the deployment.rolling values, as ECS's rolling-update limits.
var rollingPresets = map[string]Deployment{
	"default":  {Strategy: "default", MinHealthyPercent: 100, MaxPercent: 200},
	"recreate": {Strategy: "recreate", MinHealthyPercent: 0, MaxPercent: 100},
}
