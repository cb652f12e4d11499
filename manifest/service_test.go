package manifest

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultsByType(t *testing.T) {
	common := func(t *testing.T, s ServiceSpec) {
		assert.Equal(t, int64(256), s.Task.CPU)
		assert.Equal(t, int64(512), s.Task.Memory)
		assert.Equal(t, Count{Value: 1}, s.Count)
		assert.Equal(t, Deployment{Strategy: "default", MinHealthyPercent: 100, MaxPercent: 200, MinHealthyTime: 5 * time.Second, CircuitBreaker: CircuitBreaker{Rollback: true}}, s.Deployment)
		assert.Equal(t, Placement{Strategy: "spread"}, s.Placement)
		assert.Equal(t, 10*time.Second, s.Task.StopTimeout)
		assert.Equal(t, s.Type == LoadBalancedWebService, s.HTTP != nil, "only a Load Balanced Web Service has a route")
	}
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, s ServiceSpec)
	}{
		{"load balanced web service gets an HTTP healthcheck on /", `name: web
type: Load Balanced Web Service
image: {location: example.com/web:1, port: 8080}
`, func(t *testing.T, s ServiceSpec) {
			assert.Equal(t, &Healthcheck{Path: "/", Interval: 10 * time.Second, Timeout: 5 * time.Second, Retries: 2}, s.Task.Healthcheck)
			assert.Equal(t, 8080, s.Task.Port)
		}},
		{"backend service without port or healthcheck", `name: api
type: Backend Service
image: {location: example.com/api:1}
`, func(t *testing.T, s ServiceSpec) {
			assert.Nil(t, s.Task.Healthcheck)
			assert.Zero(t, s.Task.Port)
		}},
		{"worker service", `name: worker
type: Worker Service
image: {location: example.com/worker:1}
`, func(t *testing.T, s ServiceSpec) {
			assert.Nil(t, s.Task.Healthcheck)
			assert.Equal(t, WorkerService, s.Type)
		}},
		{"scheduled job", `name: report
type: Scheduled Job
image: {location: example.com/report:1}
schedule: "0 3 * * MON-FRI"
`, func(t *testing.T, s ServiceSpec) {
			assert.Equal(t, "0 3 * * MON-FRI", s.Schedule)
			assert.Equal(t, 1, s.Concurrency, "never two runs at once unless asked")
			assert.Zero(t, s.Retries)
			assert.Zero(t, s.Timeout)
		}},
		{"scheduled job with Copilot's on.schedule, retries and timeout", `name: report
type: Scheduled Job
image: {location: example.com/report:1}
on: {schedule: "@every 1h30m"}
retries: 3
timeout: 1h
concurrency: 2
environments:
  test: {on: {schedule: "@hourly"}}
`, func(t *testing.T, s ServiceSpec) {
			assert.Equal(t, "@hourly", s.Schedule, "the environment's override wins")
			assert.Equal(t, 3, s.Retries)
			assert.Equal(t, time.Hour, s.Timeout)
			assert.Equal(t, 2, s.Concurrency)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := loadService1(t, tt.yaml, "test", nil)
			require.NoError(t, err)
			assert.Equal(t, "hello", s.App)
			assert.Equal(t, "test", s.Env)
			common(t, s)
			tt.check(t, s)
		})
	}
}

func TestFields(t *testing.T) {
	const head = "name: web\ntype: Backend Service\n"
	const img = "image: {location: example.com/web:1, port: 80}\n"
	tests := []struct {
		name  string
		yaml  string // appended to head
		files map[string]string
		check func(t *testing.T, s ServiceSpec, dir string)
	}{
		{"location fills the task image", img, nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, "example.com/web:1", s.Image.Location)
			assert.Equal(t, "example.com/web:1", s.Task.Image)
			assert.Nil(t, s.Image.Build)
		}},
		{"build as a string, Dockerfile when there is no Containerfile", "image: {build: ./web}\n", map[string]string{"web/Dockerfile": "FROM scratch\n"}, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, &BuildSpec{Context: filepath.Join(dir, "web"), Containerfile: filepath.Join(dir, "web", "Dockerfile")}, s.Image.Build)
			assert.Empty(t, s.Task.Image, "the builder fills the image")
		}},
		{"build as a string finds a Containerfile", "image: {build: web}\n", map[string]string{"web/Containerfile": "FROM scratch\n"}, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, filepath.Join(dir, "web", "Containerfile"), s.Image.Build.Containerfile)
		}},
		{"build as a map", "image:\n  build: {context: ./web, containerfile: ./web/Containerfile.prod, args: {GO: '1.26'}}\n", map[string]string{"web/Containerfile.prod": "FROM scratch\n"}, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, &BuildSpec{Context: filepath.Join(dir, "web"), Containerfile: filepath.Join(dir, "web", "Containerfile.prod"), Args: map[string]string{"GO": "1.26"}}, s.Image.Build)
		}},
		{"ports", "image: {location: x, port: 8080, host_port: 18080}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, 8080, s.Task.Port)
			assert.Equal(t, 18080, s.Task.HostPort)
		}},
		{"command as a list", img + "command: [/web, --verbose]\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, []string{"/web", "--verbose"}, s.Task.Command)
		}},
		{"command as a string honours quotes", img + `command: /web --name "a b" 'c d' e\ f` + "\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, []string{"/web", "--name", "a b", "c d", "e f"}, s.Task.Command)
		}},
		{"entrypoint both shapes", img + "entrypoint: /bin/sh -c\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, []string{"/bin/sh", "-c"}, s.Task.Entrypoint)
		}},
		{"cpu and memory", img + "cpu: 1024\nmemory: 2048\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, int64(1024), s.Task.CPU)
			assert.Equal(t, int64(2048), s.Task.Memory)
		}},
		{"count as a number", img + "count: 0\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, Count{Value: 0}, s.Count)
		}},
		{"count with a range string", img + "count: {range: 2-10, cpu_percentage: 70, memory_percentage: 80, requests: 100, cooldown: 60s}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, Count{Value: 2, Range: &CountRange{Min: 2, Max: 10},
				Scale: &ScaleTargets{CPUPercent: 70, MemoryPercent: 80, RequestsPerTask: 100, CooldownIn: time.Minute, CooldownOut: time.Minute}}, s.Count)
		}},
		{"count with a range map and Copilot's cooldowns", img + "count: {range: {min: 1, max: 4}, requests: 10, cooldown: {in: 5m, out: 30s}}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, Count{Value: 1, Range: &CountRange{Min: 1, Max: 4},
				Scale: &ScaleTargets{RequestsPerTask: 10, CooldownIn: 5 * time.Minute, CooldownOut: 30 * time.Second}}, s.Count)
		}},
		{"cooldowns default to Copilot's, one direction at a time", img + "count: {range: 2-6, cpu_percentage: 50, cooldown: {out: 10s}}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, &ScaleTargets{CPUPercent: 50, CooldownIn: 2 * time.Minute, CooldownOut: 10 * time.Second}, s.Count.Scale)
		}},
		{"variables become strings", img + "variables: {LOG_LEVEL: info, N: 3, ON: true, PI: 3.14, EMPTY: }\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, map[string]string{"LOG_LEVEL": "info", "N": "3", "ON": "true", "PI": "3.14", "EMPTY": ""}, s.Task.Variables)
		}},
		{"secrets in all shapes, sorted", img + "secrets:\n  DB: DB_VAR\n  API: {from_env: API_VAR, type: env}\n  CERT: {file: ./secrets/cert, type: mount}\n", map[string]string{"secrets/cert": "c"}, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, []Secret{
				{Name: "API", FromEnv: "API_VAR"},
				{Name: "CERT", File: filepath.Join(dir, "secrets", "cert"), Type: SecretMount},
				{Name: "DB", FromEnv: "DB_VAR"},
			}, s.Secrets)
			assert.Equal(t, []SecretRef{{Name: "API"}, {Name: "CERT", Type: SecretMount}, {Name: "DB"}}, s.Task.Secrets,
				"type: env is the default, kept empty so existing revisions keep their digests")
		}},
		{"a mounted secret may share a variable's name", img + "variables: {TOKEN: plain}\nsecrets: {TOKEN: {from_env: T, type: mount}}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, "plain", s.Task.Variables["TOKEN"])
			assert.Equal(t, SecretMount, s.Secrets[0].Type)
		}},
		{"healthcheck as a string", img + "healthcheck: /healthz\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, &Healthcheck{Path: "/healthz", Interval: 10 * time.Second, Timeout: 5 * time.Second, Retries: 2}, s.Task.Healthcheck)
		}},
		{"healthcheck partly given is filled", img + "healthcheck: {path: /up, interval: 30, retries: 5, start_period: 1m}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, &Healthcheck{Path: "/up", Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 5, StartPeriod: time.Minute}, s.Task.Healthcheck)
		}},
		{"healthcheck command as a list", img + "healthcheck: {command: [CMD, /bin/check]}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, []string{"CMD", "/bin/check"}, s.Task.Healthcheck.Command)
		}},
		{"healthcheck command as a string runs in a shell", img + "healthcheck: {command: curl -f localhost}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, []string{"CMD-SHELL", "curl -f localhost"}, s.Task.Healthcheck.Command)
		}},
		{"rolling recreate", img + "deployment: {rolling: recreate}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, Deployment{Strategy: "recreate", MinHealthyPercent: 0, MaxPercent: 100, MinHealthyTime: 5 * time.Second, CircuitBreaker: CircuitBreaker{Rollback: true}}, s.Deployment,
				"the preset keeps the breaker's defaults")
		}},
		{"explicit percents are custom", img + "deployment: {min_healthy_percent: 50, max_percent: 150}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, Deployment{Strategy: "custom", MinHealthyPercent: 50, MaxPercent: 150, MinHealthyTime: 5 * time.Second, CircuitBreaker: CircuitBreaker{Rollback: true}}, s.Deployment)
		}},
		{"one percent over a preset", img + "deployment: {rolling: recreate, max_percent: 150}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, Deployment{Strategy: "custom", MinHealthyPercent: 0, MaxPercent: 150, MinHealthyTime: 5 * time.Second, CircuitBreaker: CircuitBreaker{Rollback: true}}, s.Deployment)
		}},
		{"circuit breaker survives a preset", img + "deployment: {rolling: recreate, circuit_breaker: {threshold: 5, rollback: false}}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, Deployment{Strategy: "recreate", MinHealthyPercent: 0, MaxPercent: 100, MinHealthyTime: 5 * time.Second, CircuitBreaker: CircuitBreaker{Threshold: 5}}, s.Deployment)
			assert.Equal(t, 5, s.Deployment.CircuitBreaker.BreakerThreshold(100))
		}},
		{"min_healthy_time survives a preset, and 0s turns it off", img + "deployment: {rolling: recreate, min_healthy_time: 0s}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, Deployment{Strategy: "recreate", MinHealthyPercent: 0, MaxPercent: 100, CircuitBreaker: CircuitBreaker{Rollback: true}}, s.Deployment)
		}},
		{"min_healthy_time as seconds", img + "deployment: {min_healthy_time: 30}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, 30*time.Second, s.Deployment.MinHealthyTime)
			assert.Equal(t, "default", s.Deployment.Strategy, "the time alone leaves the preset's percents")
		}},
		{"circuit breaker partly given keeps rollback", img + "deployment: {circuit_breaker: {threshold: 200}}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, CircuitBreaker{Threshold: 200, Rollback: true}, s.Deployment.CircuitBreaker)
		}},
		{"placement", img + "placement:\n  strategy: binpack\n  spread_by: [zone]\n  constraints:\n    distinct_host: true\n    attributes: {zone: a, disk: [ssd, nvme]}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, Placement{Strategy: "binpack", SpreadBy: []string{"zone"}, Constraints: []Constraint{
				{Kind: ConstraintDistinctHost},
				{Kind: ConstraintIn, Attribute: "disk", Values: []string{"ssd", "nvme"}},
				{Kind: ConstraintEquals, Attribute: "zone", Values: []string{"a"}},
			}}, s.Placement)
		}},
		{"stop_timeout as seconds", img + "stop_timeout: 30\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, 30*time.Second, s.Task.StopTimeout)
		}},
		{"logging: sizes in 1000s and 1024s", img + "logging: {max_size: 20m}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, &Logging{MaxSize: 20_000_000}, s.Task.Logging)
			assert.Equal(t, int64(20_000_000), s.Task.LogMaxSize())
		}},
		{"logging: MiB", img + "logging: {max_size: 1.5MiB}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, int64(3<<19), s.Task.LogMaxSize())
		}},
		{"no logging keeps the task definition as it was, with the default cap", img, nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Nil(t, s.Task.Logging)
			assert.Equal(t, int64(DefaultLogMaxSize), s.Task.LogMaxSize())
		}},
		{"labels", img + "labels: {team: web, tier: '1'}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, map[string]string{"team": "web", "tier": "1"}, s.Task.Labels)
		}},
		{"volumes", img + "volumes:\n  data: {path: /data}\n  logs: {host_path: /var/log/web, path: /logs, read_only: true}\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, []Volume{
				{Type: "volume", Source: "data", Target: "/data"},
				{Type: "bind", Source: "/var/log/web", Target: "/logs", ReadOnly: true},
			}, s.Task.Volumes)
		}},
		{"null values keep defaults", img + "cpu:\nhealthcheck:\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, int64(256), s.Task.CPU)
			assert.Nil(t, s.Task.Healthcheck)
		}},
		{"anchors and aliases", img + "variables: &v {A: '1'}\nlabels: *v\n", nil, func(t *testing.T, s ServiceSpec, dir string) {
			assert.Equal(t, map[string]string{"A": "1"}, s.Task.Labels)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"deck.yaml": zonedApp, "deck/svc.yaml": head + tt.yaml}
			for k, v := range tt.files {
				files[k] = v
			}
			dir := writeFiles(t, files)
			vars := map[string]string{"DB_VAR": "d", "API_VAR": "a", "T": "t"}
			_, _, specs, err := Load(filepath.Join(dir, "deck.yaml"), "test", mapLookup(vars))
			require.NoError(t, err)
			require.Len(t, specs, 1)
			assert.Equal(t, filepath.Join(dir, "deck", "svc.yaml"), specs[0].File)
			tt.check(t, specs[0], dir)
		})
	}
}

func TestInterpolation(t *testing.T) {
	const head = "name: web\ntype: Backend Service\n"
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		want    map[string]string // expected variables
		wantErr string
	}{
		{"set", "variables: {A: '${X}'}", map[string]string{"X": "1"}, map[string]string{"A": "1"}, ""},
		{"inside text", "variables: {A: 'pre-${X}-post'}", map[string]string{"X": "mid"}, map[string]string{"A": "pre-mid-post"}, ""},
		{"default when unset", "variables: {A: '${X:-fallback}'}", nil, map[string]string{"A": "fallback"}, ""},
		{"default when empty", "variables: {A: '${X:-fallback}'}", map[string]string{"X": ""}, map[string]string{"A": "fallback"}, ""},
		{"escape", "variables: {A: '$${X} and $HOME'}", nil, map[string]string{"A": "${X} and $HOME"}, ""},
		{"deck's own variables win", "variables: {A: '${DECK_APP}/${DECK_ENV}/${DECK_SERVICE}'}", map[string]string{"DECK_APP": "other"}, map[string]string{"A": "hello/test/web"}, ""},
		{"nested default", "variables: {A: '${X:-${Y:-z}}', B: '${X:-${Y:-z}}-${Y:-$${lit}}'}", map[string]string{"Y": "y"}, map[string]string{"A": "y", "B": "y-y"}, ""},
		{"nested default, innermost", "variables: {A: '${X:-${Y:-z}}/${X:-$${Y}}'}", nil, map[string]string{"A": "z/${Y}"}, ""},
		{"nested default unset", "variables: {A: '${X:-${Y}}'}", nil, nil, "variable Y is not set"},
		{"nested default not closed", "variables: {A: '${X:-${Y:-z}'}", nil, nil, "has a ${ that is not closed"},
		{"keys are not expanded", "variables: {'${X}': v}", map[string]string{"X": "A"}, nil, `"${X}" is not a valid variable name`},
		{"unset", "variables: {A: '${MISSING}'}", nil, nil, "deck/svc.yaml:4:16: variables.A: variable MISSING is not set; set it, or give a default with ${MISSING:-value}"},
		{"bad name", "variables: {A: '${1X}'}", nil, nil, "${1X} does not name a variable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := loadService1(t, head+"image: {location: x}\n"+tt.yaml+"\n", "test", tt.env)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, s.Task.Variables)
		})
	}
	t.Run("an unset variable is one error, not one more about its text", func(t *testing.T) {
		_, dir, err := loadService1(t, head+"image: {location: x}\ncount: ${N}\ncpu: ${CPU}\nmemory: x\n", "test", nil)
		require.Error(t, err)
		assert.Equal(t, strings.Join([]string{
			"deck/svc.yaml:4:8: count: variable N is not set; set it, or give a default with ${N:-value}",
			"deck/svc.yaml:5:6: cpu: variable CPU is not set; set it, or give a default with ${CPU:-value}",
			`deck/svc.yaml:6:9: memory: "x" is not a whole number; want 6 or more MiB`,
		}, "\n"), strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""))
	})
	t.Run("DECK_SERVICE is the name once expanded", func(t *testing.T) {
		s, _, err := loadService1(t, "name: ${SVC:-api}\ntype: Backend Service\nimage: {location: x}\nvariables: {WHO: '${DECK_SERVICE}'}\n",
			"test", map[string]string{"SVC": "billing"})
		require.NoError(t, err)
		assert.Equal(t, "billing", s.Name)
		assert.Equal(t, map[string]string{"WHO": "billing"}, s.Task.Variables)
	})
	t.Run("an expanded plain scalar is typed again", func(t *testing.T) {
		s, _, err := loadService1(t, head+"image: {location: x}\ncount: ${N}\ncpu: ${CPU:-}\n", "test", map[string]string{"N": "4"})
		require.NoError(t, err)
		assert.Equal(t, 4, s.Count.Value)
		assert.Equal(t, int64(256), s.Task.CPU, "an empty default means the key is unset")
	})
}

func TestServicesSortedAndDuplicatesAcrossFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"deck.yaml":    "app: hello\nservices: [deck/*.yaml, more/*.yaml]\n",
		"deck/b.yaml":  "name: zeta\ntype: Worker Service\nimage: {location: x}\n",
		"more/a.yaml":  "name: alpha\ntype: Worker Service\nimage: {location: x}\n",
		"other/c.yaml": "name: ignored\n",
	})
	app, env, specs, err := Load(filepath.Join(dir, "deck.yaml"), "", mapLookup(nil))
	require.NoError(t, err)
	assert.Equal(t, []string{"deck/b.yaml", "more/a.yaml"}, app.ServiceFiles)
	assert.True(t, env.Implicit)
	require.Len(t, specs, 2)
	assert.Equal(t, "alpha", specs[0].Name)
	assert.Equal(t, "zeta", specs[1].Name)
	assert.Equal(t, LocalEnvironment, specs[0].Env)
}

func TestLoadServicesUsesTheEnvironmentRules(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck.yaml": testApp, testKey: "", "deck/w.yaml": "name: w\ntype: Worker Service\nimage: {location: x}\n"})
	app, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(nil))
	require.NoError(t, err)
	_, err = LoadServices(app, "", nil)
	require.EqualError(t, err, filepath.Join(dir, "deck.yaml")+": 2 environments are configured (prod, test); choose one with --env (or DECK_ENV)")
	specs, err := LoadServices(app, "prod", nil)
	require.NoError(t, err)
	assert.Equal(t, "prod", specs[0].Env)
}

func TestBreakerThreshold(t *testing.T) {
	ecs := CircuitBreaker{Rollback: true}
	for count, want := range map[int]int{0: 3, 1: 3, 6: 3, 7: 4, 10: 5, 11: 6, 399: 200, 1000: 200} {
		assert.Equal(t, want, ecs.BreakerThreshold(count), "ECS's threshold for a count of %d: half, in [3, 200]", count)
	}
	assert.Equal(t, 1, CircuitBreaker{Threshold: 1}.BreakerThreshold(1000), "a set threshold wins")
}

func TestMinHealthyTimeErrors(t *testing.T) {
	const head = "name: web\ntype: Backend Service\nimage: {location: x}\n"
	for yaml, want := range map[string]string{
		"deployment: {min_healthy_time: 11m}":  "deck/svc.yaml:4:32: deployment.min_healthy_time: 11m is out of range; want 0s to 10m",
		"deployment: {min_healthy_time: -1s}":  "deck/svc.yaml:4:32: deployment.min_healthy_time: -1s is negative",
		"deployment: {min_healthy_time: soon}": `deck/svc.yaml:4:32: deployment.min_healthy_time: "soon" is not a duration`,
	} {
		t.Run(yaml, func(t *testing.T) {
			_, dir, err := loadService1(t, head+yaml+"\n", "test", nil)
			require.Error(t, err)
			assert.Contains(t, strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""), want)
		})
	}
}
