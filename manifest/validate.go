package manifest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// validate checks the rules that span several keys, once the document is decoded.
func (s *serviceLoader) validate() {
	sp, t := &s.spec, &s.spec.Task
	switch {
	case !s.has("name"):
		s.at("name", "the service has no name; want name: <name>, such as name: web")
	default:
		if msg := checkName(sp.Name, "service"); msg != "" {
			s.at("name", "%s", msg)
		}
	}
	s.validateImage()
	s.validateDeployment()

	for name := range t.Variables {
		for _, sec := range sp.Secrets {
			// A mounted secret is a file, which cannot clash with a variable.
			if sec.Name == name && sec.Type == "" {
				s.at(joinPath("secrets", name), "%s is both a variable and a secret; keep one", name)
			}
		}
	}
	if t.HostPort != 0 && t.Port == 0 && sp.Type != WorkerService && sp.Type != ScheduledJob {
		s.at("image.host_port", "host_port is set without port; want port: <container port> as well")
	}

	switch sp.Type {
	case LoadBalancedWebService:
		if t.Port == 0 && !s.has("image.port") {
			s.at("image.port", "a Load Balanced Web Service needs the port its container listens on; want image.port: <port>, such as port: 8080")
		}
		if t.Healthcheck == nil {
			hc := defaultHealthcheck()
			hc.Path = "/"
			t.Healthcheck = &hc
		}
	case WorkerService, ScheduledJob:
		kind := "a " + string(sp.Type)
		for _, key := range []string{"image.port", "image.host_port"} {
			if s.has(key) {
				s.at(key, "%s takes no port, since nothing sends it requests; remove %s, or use type: %s", kind, key, BackendService)
			}
		}
		t.Port, t.HostPort = 0, 0
	}
	s.validateJob()
	s.validateHealthcheck()
	s.fillHTTP() // after the healthcheck: the target health check takes its path
	s.validatePlacement()
}

// validatePlacement checks the service's placement against the environment's hosts as far
// as the files tell, so a deploy is not the first to find it cannot place a task: a
// constraint that no host meets, a task larger than every host that states its capacity,
// and a count that one task a host (a fixed host port, distinct_host) cannot fit on the hosts
// the constraints leave. With no hosts (unknown, or none: reported with the environment)
// there is nothing to check.
func (s *serviceLoader) validatePlacement() {
	if len(s.hosts) == 0 {
		return
	}
	eligible, ok := s.validateConstraints()
	if !ok {
		return
	}
	s.validateFit(eligible)
	s.validateOneAHost(eligible)
}

// validateConstraints returns the hosts that meet every attribute constraint, reporting the
// constraint that leaves none.
func (s *serviceLoader) validateConstraints() ([]HostSpec, bool) {
	eligible := s.hosts
	var met []string // the constraints applied so far, for the message
	for _, k := range s.spec.Placement.Constraints {
		if k.Kind == ConstraintDistinctHost {
			continue
		}
		var next []HostSpec
		values := map[string]bool{}
		for _, h := range eligible {
			v, has := h.Attributes[k.Attribute]
			if has {
				values[v] = true
			}
			if has && slices.Contains(k.Values, v) {
				next = append(next, h)
			}
		}
		if len(next) == 0 {
			path := joinPath("placement.constraints.attributes", k.Attribute)
			which := "no host of environment " + s.spec.Env
			if len(met) > 0 {
				which += " with " + strings.Join(met, " and ")
			}
			want := k.String()
			if len(values) == 0 {
				names := map[string]bool{}
				for _, h := range s.hosts {
					for a := range h.Attributes {
						names[a] = true
					}
				}
				if len(names) == 0 {
					s.at(path, "%s has %s: its hosts have no attributes; give them in deck.yaml (attributes: {%s: %s}), or remove the constraint",
						which, want, k.Attribute, k.Values[0])
				} else {
					s.at(path, "%s has the attribute %s;%s its hosts' attributes are %s", which, quote(k.Attribute),
						suggest(k.Attribute, slices.Sorted(maps.Keys(names))), nameList(slices.Sorted(maps.Keys(names))))
				}
			} else {
				those := "its hosts have"
				if len(met) > 0 {
					those = "those hosts have"
				}
				s.at(path, "%s has %s; %s %s %s", which, want, those, k.Attribute, nameList(slices.Sorted(maps.Keys(values))))
			}
			return nil, false
		}
		eligible = next
		met = append(met, k.String())
	}
	return eligible, true
}

// validateFit reports a task's cpu or memory that no eligible host can take, when every one
// of them states its capacity (a host that does not has it read by plan and deploy).
func (s *serviceLoader) validateFit(eligible []HostSpec) {
	var most Resources
	for _, h := range eligible {
		if h.Capacity == nil {
			return
		}
		most.CPU = max(most.CPU, h.Capacity.CPU-h.Reserved.CPU)
		most.Memory = max(most.Memory, h.Capacity.Memory-h.Reserved.Memory)
	}
	where := "environment " + s.spec.Env + "'s hosts"
	if len(eligible) < len(s.hosts) {
		where = "the hosts its constraints allow"
	}
	t := s.spec.Task
	for _, r := range []struct {
		key        string
		need, most int64
		unit       string
	}{{"cpu", t.CPU, most.CPU, " units"}, {"memory", t.Memory, most.Memory, " MiB"}} {
		if r.need > r.most {
			s.at(r.key, "%s %d does not fit on any host: %s offer at most %d%s (capacity less reserved); want %s: %d or less",
				r.key, r.need, where, r.most, r.unit, r.key, r.most)
		}
	}
}

// validateOneAHost checks that a service with a fixed host port, or placed on distinct
// hosts, fits: one task a host, so the count (the top of a range: the autoscaler may go
// there) cannot be more than the hosts it may use.
func (s *serviceLoader) validateOneAHost(eligible []HostSpec) {
	sp := &s.spec
	count, what := sp.Count.Value, "count"
	if r := sp.Count.Range; r != nil {
		count, what = r.Max, "the range's max"
	}
	n := len(eligible)
	if count <= n {
		return
	}
	has := fmt.Sprintf("environment %s has %s", sp.Env, plural(n, "host"))
	if n < len(s.hosts) {
		has = fmt.Sprintf("its constraints allow %d of environment %s's %s", n, sp.Env, plural(len(s.hosts), "host"))
	}
	distinct := false
	for _, c := range sp.Placement.Constraints {
		distinct = distinct || c.Kind == ConstraintDistinctHost
	}
	switch {
	case sp.Task.HostPort != 0:
		path := "image.host_port"
		if s.has("count") {
			path = "count"
		}
		s.at(path, "%s %d does not fit: host_port %d can be taken by one task a host, and %s; want a count of at most %d, or no host_port",
			what, count, sp.Task.HostPort, has, n)
	case distinct:
		path := "placement.constraints.distinct_host"
		if s.has("count") {
			path = "count"
		}
		s.at(path, "%s %d does not fit: distinct_host puts at most one task on a host, and %s; want a count of at most %d, or no distinct_host",
			what, count, has, n)
	}
}

// plural is "1 host" or "3 hosts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func (s *serviceLoader) validateImage() {
	im := s.spec.Image
	switch {
	case !s.has("image"):
		s.at("image", "the service has no image; want image: {build: <directory>} to build one, or image: {location: <reference>} to run an existing one")
	case im.Build != nil && s.has("image.location"):
		s.at("image", "image has both build and location; want one: build makes the image from a directory, location names an existing image")
	case im.Build == nil && !s.has("image.location"):
		s.at("image", "image has neither build nor location; want build: <directory> to build the image, or location: <reference> to run an existing one")
	}
}

// validateDeployment applies the rolling preset, then any percent given explicitly, which
// makes the strategy "custom".
func (s *serviceLoader) validateDeployment() {
	d := &s.spec.Deployment
	minP, maxP := d.MinHealthyPercent, d.MaxPercent
	preset := rollingPresets["default"]
	if s.rolling != "" {
		preset = rollingPresets[s.rolling]
	}
	// The preset sets the percents only; the breaker and the time a new task must stay
	// healthy are as decoded (or their defaults).
	preset.CircuitBreaker = d.CircuitBreaker
	if s.has("deployment.min_healthy_time") {
		preset.MinHealthyTime = d.MinHealthyTime
	}
	*d = preset
	minSet, maxSet := s.has("deployment.min_healthy_percent"), s.has("deployment.max_percent")
	if !minSet && !maxSet {
		return
	}
	d.Strategy = "custom"
	if minSet {
		d.MinHealthyPercent = minP
	}
	if maxSet {
		d.MaxPercent = maxP
	}
	if !s.badPercent && d.MaxPercent <= d.MinHealthyPercent {
		path := "deployment.max_percent"
		if !maxSet {
			path = "deployment.min_healthy_percent"
		}
		s.at(path, "max_percent %d is not above min_healthy_percent %d, so no task could ever be replaced; want max_percent > min_healthy_percent, such as 50 and 150",
			d.MaxPercent, d.MinHealthyPercent)
	}
}

func (s *serviceLoader) validateHealthcheck() {
	hc, t := s.spec.Task.Healthcheck, &s.spec.Task
	if hc == nil || !s.has("healthcheck") {
		return
	}
	pathSet := s.has("healthcheck.path")
	cmdSet := s.has("healthcheck.command")
	switch {
	case pathSet && cmdSet:
		s.at("healthcheck", "healthcheck has both path and command; want one: path probes HTTP on the port, command runs inside the container")
		return
	case !pathSet && !cmdSet:
		if s.spec.Type == LoadBalancedWebService {
			hc.Path = "/"
			return
		}
		s.at("healthcheck", "healthcheck has neither path nor command; want path: /healthz (needs image.port) or command: [\"CMD\", \"/bin/check\"]")
		return
	}
	if cmdSet {
		if len(hc.Command) == 0 {
			s.at("healthcheck.command", "the command is empty; want a list such as [\"CMD\", \"/bin/check\"] or a shell string")
		}
		return
	}
	switch {
	case s.spec.Type == WorkerService:
		s.at("healthcheck.path", "a Worker Service takes no port, so it cannot be probed over HTTP; want healthcheck.command instead, such as [\"CMD\", \"/bin/check\"]")
	case s.spec.Type == ScheduledJob:
		s.at("healthcheck.path", "a Scheduled Job takes no port, so it cannot be probed over HTTP; want healthcheck.command instead, such as [\"CMD\", \"/bin/check\"]")
	case t.Port == 0 && !s.has("image.port"):
		s.at("healthcheck.path", "a healthcheck path is probed on the container's port, and image.port is not set; set image.port, or use healthcheck.command")
	case !strings.HasPrefix(hc.Path, "/"):
		s.at("healthcheck.path", "%s does not start with /; want a path such as /healthz", quote(hc.Path))
	}
}
