package manifest

import "strings"

// Report is what Validate found: each environment checked, with its hosts and services, and
// every problem once.
type Report struct {
	App  *App        // nil when deck.yaml could not be read or parsed
	Envs []EnvReport // the environments checked, in name order
	// Errors holds every problem. One found in some of the environments checked but not
	// all carries Env, once for each environment that has it.
	Errors ErrorList
}

// EnvReport is one environment as Validate checked it.
type EnvReport struct {
	Name        string
	Environment *Environment // nil when the environment itself has errors
	Services    []ServiceSpec
	Errors      int // the problems that affect this environment, shared ones included
}

// Err returns the report's problems as an ErrorList, or nil.
func (r *Report) Err() error {
	return r.Errors.err()
}

// Validate checks deck.yaml and, for env (every environment deck.yaml declares when env is
// ""), the environment and every service manifest, as deck validate does. Unlike loading for
// a deploy, it reports for each environment the problems that depend on this machine (an
// unset ${VAR}, a missing hosts file, ssh key, secret or build context): each is a real
// problem for that environment, and a typo in prod's override must not wait for the first
// deploy to prod to show.
func Validate(path, env string, lookupEnv func(string) (string, bool)) *Report {
	app, errs := loadApp(path, lookupEnv)
	r := &Report{App: app}
	if app == nil {
		r.Errors = errs
		return r
	}
	names := []string{env}
	if env == "" {
		if names = app.EnvironmentNames(); len(names) == 0 {
			names = []string{LocalEnvironment}
		}
	}
	sl := newServicesLoader(app, lookupEnv)
	sl.strict = true
	perEnv := make([]ErrorList, len(names))
	for i, name := range names {
		er, list := validateEnv(app, sl, name)
		r.Envs = append(r.Envs, er)
		perEnv[i] = list
	}
	shared := append(errs, sl.errs...)
	countShared(r.Envs, shared)
	r.Errors = append(shared, mergeEnvErrors(r.Envs, perEnv)...)
	r.Errors.sort()
	return r
}

// countShared counts the problems of deck.yaml and of the service files in the
// environments they affect: the one an environments.NAME path names, else every one.
func countShared(envs []EnvReport, shared ErrorList) {
	for _, e := range shared {
		named := false
		for i := range envs {
			if strings.HasPrefix(e.Path+".", "environments."+envs[i].Name+".") {
				envs[i].Errors++
				named = true
			}
		}
		if !named {
			for i := range envs {
				envs[i].Errors++
			}
		}
	}
}

// validateEnv checks one environment and its services; the environment-independent problems
// of the files are in sl.errs.
func validateEnv(app *App, sl *servicesLoader, name string) (EnvReport, ErrorList) {
	er := EnvReport{Name: name}
	var list ErrorList
	var hosts []HostSpec
	e, err := app.Environment(name)
	if err != nil {
		list = asList(err)
	} else {
		er.Name, er.Environment, hosts = e.Name, e, e.Hosts
	}
	specs, serrs, local := sl.load(er.Name, hosts)
	er.Services = specs
	return er, append(append(list, serrs...), local...)
}

// mergeEnvErrors lists each problem once: without Env when every environment has it (a
// misspelt key in the base), else once for each environment that has it, with its name.
func mergeEnvErrors(envs []EnvReport, perEnv []ErrorList) ErrorList {
	type key struct {
		file, path, msg string
		line, col       int
	}
	in := map[key][]int{} // the environments that have the problem
	var order []*Error
	for i, list := range perEnv {
		for _, e := range list {
			k := key{e.File, e.Path, e.Msg, e.Line, e.Column}
			has := in[k]
			if len(has) > 0 && has[len(has)-1] == i {
				continue // twice in one environment
			}
			if len(has) == 0 {
				order = append(order, e)
			}
			in[k] = append(has, i)
			envs[i].Errors++
		}
	}
	var out ErrorList
	for _, e := range order {
		has := in[key{e.File, e.Path, e.Msg, e.Line, e.Column}]
		if len(has) == len(perEnv) {
			out = append(out, e)
			continue
		}
		for _, i := range has {
			tagged := *e
			tagged.Env = envs[i].Name
			out = append(out, &tagged)
		}
	}
	return out
}

// namesEnv reports whether an error already says which environment it is about, by its path
// (environments.prod.count) or its message ("environment prod has 2 hosts").
func (e *Error) namesEnv() bool {
	return strings.HasPrefix(e.Path+".", "environments."+e.Env+".") || strings.Contains(e.Msg, "environment "+e.Env+" ")
}
