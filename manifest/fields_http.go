package manifest

import (
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults of a Load Balanced Web Service's route and target group: Copilot's (ECS's),
// but for the health check's path, which follows the service's own (see fillHTTP).
func defaultHTTP() HTTP {
	return HTTP{
		Path:                "/",
		DeregistrationDelay: 60 * time.Second,
		Healthcheck: TargetHealthcheck{
			SuccessCodes:       "200-399",
			HealthyThreshold:   2,
			UnhealthyThreshold: 2,
			Interval:           10 * time.Second,
			Timeout:            5 * time.Second,
			GracePeriod:        60 * time.Second,
		},
	}
}

const aliasWant = "want a host name such as api.example.com or *.example.com, without a scheme, port or path"

// http reads a Load Balanced Web Service's route over the defaults. The other types have
// no route, so on them the key is one error, not one for each problem inside it.
func (s *serviceLoader) http(n *yaml.Node, p string) {
	if t := s.spec.Type; t != "" && t != LoadBalancedWebService {
		s.errorf(n, p, "only a %s takes http, its route on the environment's load balancers, and this is a %s; remove http, or use type: %s",
			LoadBalancedWebService, t, LoadBalancedWebService)
		return
	}
	h := defaultHTTP()
	s.spec.HTTP = &h
	s.mapping(n, p, []field{
		{"path", func(n *yaml.Node, p string) {
			if v, ok := s.str(n, p); ok {
				if msg := checkRoutePath(v); msg != "" {
					s.errorf(n, p, "%s", msg)
					return
				}
				h.Path = v
			}
		}},
		{"alias", func(n *yaml.Node, p string) { h.Aliases = s.aliases(n, p) }},
		{"deregistration_delay", func(n *yaml.Node, p string) {
			h.DeregistrationDelay, _ = s.durationIn(n, p, 0, time.Hour, h.DeregistrationDelay)
		}},
		{"stickiness", func(n *yaml.Node, p string) { h.Stickiness, _ = s.boolean(n, p) }},
		{"healthcheck", func(n *yaml.Node, p string) { s.targetHealthcheck(&h.Healthcheck, n, p) }},
	})
}

// aliases reads http.alias: one host name, or a list of them. Host names are compared
// without regard to case, so they are kept in lower case.
func (s *serviceLoader) aliases(n *yaml.Node, p string) []string {
	var list []string
	paths := []string{p}
	switch n.Kind {
	case yaml.ScalarNode:
		v, _ := s.str(n, p)
		list = []string{v}
	case yaml.SequenceNode:
		list, _ = s.stringList(n, p)
		paths = make([]string, len(list))
		for i := range list {
			paths[i] = indexPath(p, i)
		}
	default:
		s.errorf(n, p, "found %s; %s, or a list of them", describe(n), aliasWant)
		return nil
	}
	out := []string{}
	first := map[string]int{}
	for i, a := range list {
		a = strings.ToLower(a)
		if msg := checkAlias(a); msg != "" {
			s.at(paths[i], "%s", msg)
			continue
		}
		if j, dup := first[a]; dup {
			s.at(paths[i], "alias %s is given twice (first as %s); keep one", quote(a), paths[j])
			continue
		}
		first[a] = i
		out = append(out, a)
	}
	return out
}

// targetHealthcheck reads http.healthcheck: a path (the string shorthand) or a map.
func (s *serviceLoader) targetHealthcheck(hc *TargetHealthcheck, n *yaml.Node, p string) {
	readPath := func(n *yaml.Node, p string) {
		if v, ok := s.str(n, p); ok {
			if msg := checkProbePath(v); msg != "" {
				s.errorf(n, p, "%s", msg)
				return
			}
			hc.Path = v
		}
	}
	if n.Kind == yaml.ScalarNode {
		s.nodes[joinPath(p, "path")] = n
		readPath(n, joinPath(p, "path"))
		return
	}
	threshold := func(dst *int) func(*yaml.Node, string) {
		return func(n *yaml.Node, p string) {
			if v, ok := s.intRange(n, p, 1, 10, " checks in a row"); ok {
				*dst = v
			}
		}
	}
	timing := true // interval and timeout are both valid, so they can be compared
	s.mapping(n, p, []field{
		{"path", readPath},
		{"success_codes", func(n *yaml.Node, p string) { hc.SuccessCodes = s.successCodes(n, p, hc.SuccessCodes) }},
		{"healthy_threshold", threshold(&hc.HealthyThreshold)},
		{"unhealthy_threshold", threshold(&hc.UnhealthyThreshold)},
		{"interval", func(n *yaml.Node, p string) {
			var ok bool
			hc.Interval, ok = s.durationIn(n, p, time.Second, 5*time.Minute, hc.Interval)
			timing = timing && ok
		}},
		{"timeout", func(n *yaml.Node, p string) {
			var ok bool
			hc.Timeout, ok = s.durationIn(n, p, time.Millisecond, 5*time.Minute, hc.Timeout)
			timing = timing && ok
		}},
		{"grace_period", func(n *yaml.Node, p string) {
			hc.GracePeriod, _ = s.durationIn(n, p, 0, time.Hour, hc.GracePeriod)
		}},
	})
	if timing && hc.Timeout >= hc.Interval {
		s.timeoutNotBelowInterval(hc, p)
	}
}

// successCodes reads success_codes (spaces dropped), keeping old when it is wrong.
func (s *serviceLoader) successCodes(n *yaml.Node, p, old string) string {
	v, ok := s.str(n, p)
	if !ok {
		return old
	}
	v = strings.ReplaceAll(v, " ", "")
	if msg := checkSuccessCodes(v); msg != "" {
		s.errorf(n, p, "%s", msg)
		return old
	}
	return v
}

// timeoutNotBelowInterval reports a check that would still be waiting when the next one
// starts, at the key that was set (timeout when both were).
func (s *serviceLoader) timeoutNotBelowInterval(hc *TargetHealthcheck, p string) {
	iv, to := shortDuration(hc.Interval), shortDuration(hc.Timeout)
	half := hc.Interval / 2
	if half >= time.Second {
		half = half.Truncate(time.Second)
	}
	if s.has(joinPath(p, "timeout")) {
		s.at(joinPath(p, "timeout"), "timeout %s is not below interval %s, so a check could still be waiting when the next starts; want a shorter timeout, such as timeout: %s",
			to, iv, shortDuration(half))
		return
	}
	s.at(joinPath(p, "interval"), "interval %s is not above the default timeout of %s, so a check could still be waiting when the next starts; want a longer interval, or a shorter timeout such as timeout: %s",
		iv, to, shortDuration(half))
}

// fillHTTP gives a Load Balanced Web Service its route (the defaults when it has no http)
// and its target health check's path: the service's own HTTP check's path, else "/".
func (s *serviceLoader) fillHTTP() {
	if s.spec.Type != LoadBalancedWebService {
		s.spec.HTTP = nil
		return
	}
	if s.spec.HTTP == nil {
		h := defaultHTTP()
		s.spec.HTTP = &h
	}
	if s.has("http.healthcheck.path") {
		return
	}
	s.spec.HTTP.Healthcheck.Path = "/"
	if hc := s.spec.Task.Healthcheck; hc != nil && hc.Path != "" {
		s.spec.HTTP.Healthcheck.Path = hc.Path
	}
}

// checkRoutePath validates http.path, a path prefix: "" when it is valid, else the message.
func checkRoutePath(p string) string {
	const want = "want a path prefix such as / or /api"
	switch {
	case p == "":
		return "the path is empty; " + want
	case !strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%s does not start with /; did you mean %q? %s", quote(p), "/"+clip(p), want)
	}
	for _, c := range []struct{ char, what string }{
		{"?", "a query (?), but a route matches the path only"},
		{"#", "a fragment (#), which clients never send"},
		{"*", "a *, but the path is already a prefix: /api takes /api/users too"},
	} {
		if i := strings.Index(p, c.char); i >= 0 {
			return fmt.Sprintf("%s holds %s; %s, such as %s", quote(p), c.what, want, quote(p[:i]))
		}
	}
	// The load balancers match a route's path as plain text, so it has no spaces and no
	// %-escapes (their check refuses both before writing a route: caught here, nothing
	// is changed).
	for _, r := range p {
		if r <= ' ' || r == 0x7f {
			return fmt.Sprintf("%s holds a space or a control character; %s", quote(p), want)
		}
	}
	if strings.Contains(p, "%") {
		hint := ";"
		if dec, err := url.PathUnescape(p); err == nil && checkRoutePath(dec) == "" {
			hint = fmt.Sprintf("; did you mean %q?", dec)
		}
		return fmt.Sprintf("%s holds a %%: a route's path is plain text, matched as the request's decoded path%s %s", quote(p), hint, want)
	}
	if clean := path.Clean(p); clean != strings.TrimSuffix(p, "/") && p != "/" {
		return fmt.Sprintf("%s is not a clean path (no //, . or ..); did you mean %q? %s", quote(p), clean, want)
	}
	if t := strings.TrimSuffix(p, "/"); t != p && t != "" {
		return fmt.Sprintf("%s ends with /; did you mean %q? A route's path is a prefix: %s takes %s/ and everything under it; %s", quote(p), t, t, t, want)
	}
	return ""
}

// checkProbePath validates the target health check's path, which may hold a query.
func checkProbePath(p string) string {
	const want = "want a path such as /healthz"
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%s does not start with /; %s", quote(p), want)
	case strings.Contains(p, "#"):
		return fmt.Sprintf("%s holds a fragment (#), which is never sent; %s", quote(p), want)
	}
	return checkURLChars(p, want)
}

// checkURLChars refuses what cannot be sent as it is in a request line: spaces, control
// characters and broken %-escapes.
func checkURLChars(p, want string) string {
	for _, r := range p {
		if r <= ' ' || r == 0x7f {
			return fmt.Sprintf("%s holds a space or a control character; %s, with a space written %%20", quote(p), want)
		}
	}
	if _, err := url.PathUnescape(p); err != nil {
		return fmt.Sprintf("%s holds a %% that does not start an escape such as %%20; %s", quote(p), want)
	}
	return ""
}

// checkAlias validates one http.alias (already in lower case).
func checkAlias(a string) string {
	if a == "" {
		return "an alias is empty; " + aliasWant
	}
	if isDNSName(strings.TrimPrefix(a, "*.")) {
		return ""
	}
	hint := ""
	if h := aliasHost(a); h != a && h != "" && isDNSName(strings.TrimPrefix(h, "*.")) {
		hint = fmt.Sprintf(" did you mean %q?", h)
	}
	return fmt.Sprintf("%s is not a host name;%s %s", quote(a), hint, aliasWant)
}

// aliasHost is a URL-like alias cut down to its host: https://API.example.com:443/x
// gives api.example.com.
func aliasHost(a string) string {
	if _, rest, ok := strings.Cut(a, "://"); ok {
		a = rest
	}
	a, _, _ = strings.Cut(a, "/")
	if i := strings.LastIndex(a, ":"); i >= 0 {
		if _, err := strconv.Atoi(a[i+1:]); err == nil {
			a = a[:i]
		}
	}
	return strings.TrimSuffix(a, ".")
}

// isDNSName reports whether a is a host name of lower-case DNS labels.
func isDNSName(a string) bool {
	if a == "" || len(a) > 253 {
		return false
	}
	for _, label := range strings.Split(a, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
				return false
			}
		}
	}
	return true
}

// checkSuccessCodes validates HTTP status codes and ranges: 200, 200,204 or 200-299.
func checkSuccessCodes(v string) string {
	const want = "want codes and ranges from 100 to 599, such as 200, 200,204 or 200-299"
	for _, part := range strings.Split(v, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		switch {
		case err1 != nil || err2 != nil:
			return fmt.Sprintf("%s is not a list of HTTP status codes; %s", quote(v), want)
		case (a < 100 || a > 599 || b < 100 || b > 599) && isRange:
			return fmt.Sprintf("%s is not a range of HTTP status codes; %s", quote(part), want)
		case a < 100 || a > 599:
			return fmt.Sprintf("%s is not an HTTP status code; %s", quote(part), want)
		case a > b:
			return fmt.Sprintf("range %s runs backwards; want low-high, such as %d-%d", quote(part), b, a)
		}
	}
	return ""
}
