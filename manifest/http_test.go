package manifest

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHTTP(t *testing.T) {
	const web = "name: web\ntype: Load Balanced Web Service\nimage: {location: example.com/web:1, port: 8080}\n"
	defaults := HTTP{Path: "/", DeregistrationDelay: time.Minute, Healthcheck: TargetHealthcheck{
		Path: "/", SuccessCodes: "200-399", HealthyThreshold: 2, UnhealthyThreshold: 2,
		Interval: 10 * time.Second, Timeout: 5 * time.Second, GracePeriod: time.Minute}}
	with := func(change func(h *HTTP)) *HTTP {
		h := defaults
		change(&h)
		return &h
	}
	tests := []struct {
		name string
		yaml string
		env  string
		want *HTTP
	}{
		{"no http gets every default", web, "test", &defaults},
		{"every field", web + `http:
  path: /api
  alias: [API.example.com, "*.example.org"]
  deregistration_delay: 0s
  stickiness: true
  healthcheck:
    path: /healthz?full=1
    success_codes: "200, 204-206"
    healthy_threshold: 10
    unhealthy_threshold: 1
    interval: 300
    timeout: 1m
    grace_period: 1h
`, "test", &HTTP{Path: "/api", Aliases: []string{"api.example.com", "*.example.org"}, Stickiness: true,
			Healthcheck: TargetHealthcheck{Path: "/healthz?full=1", SuccessCodes: "200,204-206", HealthyThreshold: 10,
				UnhealthyThreshold: 1, Interval: 5 * time.Minute, Timeout: time.Minute, GracePeriod: time.Hour}}},
		{"one alias as a string, healthcheck as a path", web + "http: {alias: api.example.com, healthcheck: /up}\n", "test",
			with(func(h *HTTP) { h.Aliases, h.Healthcheck.Path = []string{"api.example.com"}, "/up" })},
		{"the target check takes the service's HTTP check path", web + "healthcheck: /healthz\nhttp: {path: /api}\n", "test",
			with(func(h *HTTP) { h.Path, h.Healthcheck.Path = "/api", "/healthz" })},
		{"a command check leaves the target check on /", web + "healthcheck: {command: [CMD, /check]}\n", "test", &defaults},
		{"an environment overrides key by key", web + "http: {path: /api, alias: a.example.com}\nenvironments:\n  prod:\n    http: {alias: [b.example.com], healthcheck: {interval: 20s}}\n", "prod",
			with(func(h *HTTP) {
				h.Path, h.Aliases, h.Healthcheck.Interval = "/api", []string{"b.example.com"}, 20*time.Second
			})},
		{"the base applies where no override is", web + "http: {path: /api}\nenvironments:\n  prod:\n    http: {path: /v2}\n", "test",
			with(func(h *HTTP) { h.Path = "/api" })},
		{"other types have no route", "name: api\ntype: Backend Service\nimage: {location: x, port: 80}\nhealthcheck: /healthz\n", "test", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := loadService1(t, tt.yaml, tt.env, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.want, s.HTTP)
		})
	}
}

func TestHTTPErrors(t *testing.T) {
	const web = "name: web\ntype: Load Balanced Web Service\nimage: {location: example.com/web:1, port: 8080}\n"
	tests := []struct{ yaml, want string }{
		{"http: {path: api}", `http.path: "api" does not start with /; did you mean "/api"? want a path prefix such as / or /api`},
		{"http: {path: ''}", `http.path: the path is empty`},
		{"http: {path: '/a?b=1'}", `http.path: "/a?b=1" holds a query (?), but a route matches the path only; want a path prefix such as / or /api, such as "/a"`},
		{"http: {path: '/a#b'}", `"/a#b" holds a fragment (#)`},
		{"http: {path: '/api/*'}", `"/api/*" holds a *, but the path is already a prefix`},
		{"http: {path: '/a b'}", `"/a b" holds a space or a control character`},
		{"http: {path: '/a%zz'}", `"/a%zz" holds a %: a route's path is plain text, matched as the request's decoded path; want`},
		{"http: {path: '/caf%C3%A9'}", `"/caf%C3%A9" holds a %: a route's path is plain text, matched as the request's decoded path; did you mean "/café"? want`},
		{"http: {path: '/a%20b'}", `"/a%20b" holds a %: a route's path is plain text, matched as the request's decoded path; want`},
		{"http: {path: /api/}", `http.path: "/api/" ends with /; did you mean "/api"? A route's path is a prefix: /api takes /api/ and everything under it`},
		{"http: {path: '/a//b/../c'}", `"/a//b/../c" is not a clean path (no //, . or ..); did you mean "/a/c"?`},
		{"http: {alias: 'https://Api.Example.com:443/x'}", `http.alias: "https://api.example.com:443/x" is not a host name; did you mean "api.example.com"? want a host name such as api.example.com or *.example.com, without a scheme, port or path`},
		{"http: {alias: [a.example.com, '-b.example.com']}", `http.alias[1]: "-b.example.com" is not a host name; want`},
		{"http: {alias: [a.example.com, A.example.com]}", `http.alias[1]: alias "a.example.com" is given twice (first as http.alias[0]); keep one`},
		{"http: {alias: ['']}", `http.alias[0]: an alias is empty`},
		{"http: {alias: {a: b}}", `http.alias: found a map; want a host name such as api.example.com`},
		{"http: {deregistration_delay: 2h}", `http.deregistration_delay: 2h is out of range; want 0s to 1h`},
		{"http: {stickiness: yes please}", `http.stickiness: "yes please" is not a boolean`},
		{"http: {healthcheck: healthz}", `http.healthcheck.path: "healthz" does not start with /; want a path such as /healthz`},
		{"http: {healthcheck: {success_codes: '200-'}}", `"200-" is not a list of HTTP status codes`},
		{"http: {healthcheck: {success_codes: 600}}", `http.healthcheck.success_codes: "600" is not an HTTP status code; want codes and ranges from 100 to 599`},
		{"http: {healthcheck: {success_codes: '299-200'}}", `range "299-200" runs backwards; want low-high, such as 200-299`},
		{"http: {healthcheck: {healthy_threshold: 11}}", `http.healthcheck.healthy_threshold: 11 is out of range; want 1 to 10 checks in a row`},
		{"http: {healthcheck: {unhealthy_threshold: 0}}", `http.healthcheck.unhealthy_threshold: 0 is out of range; want 1 to 10 checks in a row`},
		{"http: {healthcheck: {interval: 500ms}}", `http.healthcheck.interval: 500ms is out of range; want 1s to 5m`},
		{"http: {healthcheck: {interval: 10s, timeout: 10s}}", `http.healthcheck.timeout: timeout 10s is not below interval 10s, so a check could still be waiting when the next starts; want a shorter timeout, such as timeout: 5s`},
		{"http: {healthcheck: {interval: 4s}}", `http.healthcheck.interval: interval 4s is not above the default timeout of 5s`},
		{"http: {healthcheck: {grace_period: -1s}}", `http.healthcheck.grace_period: -1s is negative`},
		{"http: {pth: /}", `http.pth: unknown key "pth"; did you mean "path"? valid keys: path, alias, deregistration_delay, stickiness, healthcheck`},
		{"http: /api", `http: found "/api"; want a map with keys path, alias`},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			_, _, err := loadService1(t, web+tt.yaml+"\n", "test", nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "deck/svc.yaml:4:", "the error points at the http line")
		})
	}
	t.Run("a wrong timeout is not compared with the interval", func(t *testing.T) {
		_, _, err := loadService1(t, web+"http: {healthcheck: {interval: 2s, timeout: x}}\n", "test", nil)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "not below")
		assert.NotContains(t, err.Error(), "not above")
	})
	t.Run("on another type, one error says which type takes it", func(t *testing.T) {
		_, dir, err := loadService1(t, "name: api\ntype: Worker Service\nimage: {location: x}\nhttp: {path: bad, pth: x}\n", "test", nil)
		require.Error(t, err)
		assert.Equal(t, filepath.Join(dir, "deck/svc.yaml")+":4:7: http: only a Load Balanced Web Service takes http, its route on the environment's load balancers, and this is a Worker Service; remove http, or use type: Load Balanced Web Service",
			err.Error())
	})
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", time.Hour: "1h", 5 * time.Minute: "5m", 90 * time.Second: "1m30s",
		time.Hour + 30*time.Minute: "1h30m", time.Hour + time.Second: "1h0m1s", 500 * time.Millisecond: "500ms"} {
		assert.Equal(t, want, shortDuration(d))
	}
}

func TestRouteClashes(t *testing.T) {
	web := func(name, http string) string {
		return "name: " + name + "\ntype: Load Balanced Web Service\nimage: {location: x, port: 80}\n" + http
	}
	tests := []struct {
		name, a, b, want string
	}{
		{"both on every default", web("a", ""), web("b", ""),
			`deck/b.yaml:1:1: http.path: service b's route (path / for any host) is also service a's, in deck/a.yaml:1, and the load balancers could not tell their requests apart; give one a different http.path or http.alias`},
		{"a shared alias", web("a", "http: {path: /api, alias: [x.example.com, y.example.com]}\n"), web("b", "http:\n  path: /api\n  alias: Y.example.com\n"),
			`deck/b.yaml:5:9: http.path: service b's route (path /api for host y.example.com) is also service a's, in deck/a.yaml:4`},
		{"only in one environment", web("a", "http: {path: /api}\n"), web("b", "http: {path: /b}\nenvironments:\n  test:\n    http: {path: /api}\n"),
			`deck/b.yaml:7:18: environments.test.http.path: service b's route (path /api for any host) is also service a's, in deck/a.yaml:4`},
		{"paths that differ only in case", web("a", "http: {path: /api}\n"), web("b", "http: {path: /API}\n"),
			`deck/b.yaml:4:14: http.path: service b's route (path /API for any host) is also service a's (path /api: the load balancers match paths whatever their case), in deck/a.yaml:4`},
		{"different paths", web("a", "http: {path: /a}\n"), web("b", "http: {path: /b}\n"), ""},
		{"different aliases", web("a", "http: {alias: a.example.com}\n"), web("b", "http: {alias: b.example.com}\n"), ""},
		{"an alias is more specific than none", web("a", ""), web("b", "http: {alias: b.example.com}\n"), ""},
		{"only web services have routes", web("a", ""), "name: b\ntype: Backend Service\nimage: {location: x, port: 80}\n", ""},
	}
	// A path reported as wrong is not also reported as clashing by the default it falls
	// back to: one error, in the file that has it.
	dir := writeFiles(t, map[string]string{"deck.yaml": testApp, testKey: "", "deck/a.yaml": web("a", ""), "deck/b.yaml": web("b", "http: {path: api}\n")})
	_, _, _, err := Load(filepath.Join(dir, "deck.yaml"), "test", mapLookup(nil))
	require.Error(t, err)
	var list ErrorList
	require.ErrorAs(t, err, &list)
	require.Len(t, list, 1, "%v", err)
	assert.Equal(t, "http.path", list[0].Path)
	assert.Contains(t, list[0].File, "b.yaml")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"deck.yaml": testApp, testKey: "", "deck/a.yaml": tt.a, "deck/b.yaml": tt.b})
			_, _, specs, err := Load(filepath.Join(dir, "deck.yaml"), "test", mapLookup(nil))
			if tt.want == "" {
				require.NoError(t, err)
				assert.Len(t, specs, 2)
				return
			}
			require.Error(t, err)
			assert.Contains(t, strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""), tt.want)
		})
	}
}

// TestDurationLimits: a number of seconds too large for a duration is called that, not
// negative (it would wrap around); a negative one says whether 0s is allowed.
func TestDurationLimits(t *testing.T) {
	const svc = "name: api\ntype: Backend Service\nimage: {location: x}\n"
	for yaml, want := range map[string]string{
		"stop_timeout: 99999999999":      `stop_timeout: 99999999999 seconds is far too long; want a duration such as 10s, 1m30s or 500ms, or a number of seconds`,
		"stop_timeout: -1s":              `stop_timeout: -1s is negative; want 0s or a positive duration such as 10s`,
		"healthcheck: {interval: -1s}":   `healthcheck.interval: -1s is negative; want a positive duration such as 10s`,
		"healthcheck: {interval: 1e300}": `healthcheck.interval: 1e300 seconds is far too long`,
		"logging: {max_size: 10}":        `logging.max_size: 10 has no unit; want a size with a unit, such as 512k, 10m or 1g (k, m, g: 1000s; ki, mi, gi: 1024s)`,
		"logging: {max_size: 10q}":       `logging.max_size: "10q" is not a size; want a size with a unit`,
		"logging: {max_size: 1k}":        `logging.max_size: 1k is too small; want 64k or more`,
		"logging: {max_size: 1e30g}":     `logging.max_size: 1e30g is far too large`,
		"logging: {max-size: 10m}":       `logging.max-size: unknown key "max-size"; did you mean "max_size"? valid keys: max_size`,
		"logging: 10m":                   `logging: found`,
	} {
		_, _, err := loadService1(t, svc+yaml+"\n", "test", nil)
		require.Error(t, err, yaml)
		assert.Contains(t, err.Error(), want)
	}
}
