package manifest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOverrides(t *testing.T) {
	const svc = `name: web
type: Backend Service
image: {build: ./web, port: 80}
command: [/web, --a]
count: 2
variables: {LOG_LEVEL: info, REGION: eu}
healthcheck: {path: /healthz, interval: 20s}
environments:
  prod:
    image: {location: example.com/web:1}
    command: [/web]
    count: {range: 3-6, memory_percentage: 80}
    variables: {LOG_LEVEL: warn}
    healthcheck: {timeout: 2s}
  test:
    cpu: 512
`
	t.Run("prod deep-merges", func(t *testing.T) {
		s, _, err := loadService1(t, svc, "prod", nil)
		require.NoError(t, err)
		assert.Equal(t, "prod", s.Env)
		assert.Nil(t, s.Image.Build, "location in the override drops the base's build")
		assert.Equal(t, "example.com/web:1", s.Task.Image)
		assert.Equal(t, 80, s.Task.Port, "maps merge key by key")
		assert.Equal(t, []string{"/web"}, s.Task.Command, "lists replace")
		assert.Equal(t, Count{Value: 3, Range: &CountRange{Min: 3, Max: 6}, Scale: &ScaleTargets{MemoryPercent: 80, CooldownIn: DefaultCooldownIn, CooldownOut: DefaultCooldownOut}}, s.Count, "a map replaces a scalar")
		assert.Equal(t, map[string]string{"LOG_LEVEL": "warn", "REGION": "eu"}, s.Task.Variables)
		assert.Equal(t, &Healthcheck{Path: "/healthz", Interval: 20 * time.Second, Timeout: 2 * time.Second, Retries: 2}, s.Task.Healthcheck)
		assert.Equal(t, int64(256), s.Task.CPU, "test's override does not apply")
	})
	t.Run("test gets only its own", func(t *testing.T) {
		s, _, err := loadService1(t, svc, "test", nil)
		require.NoError(t, err)
		assert.Equal(t, int64(512), s.Task.CPU)
		assert.Equal(t, Count{Value: 2}, s.Count)
		assert.NotNil(t, s.Image.Build)
	})
	t.Run("errors point at the override", func(t *testing.T) {
		_, _, err := loadService1(t, "name: web\ntype: Backend Service\nimage: {location: x}\nenvironments:\n  prod:\n    cpu: 1\n", "prod", nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "deck/svc.yaml:6:10: environments.prod.cpu: 1 is out of range")
	})
	t.Run("other environments' overrides are not expanded", func(t *testing.T) {
		_, _, err := loadService1(t, "name: web\ntype: Backend Service\nimage: {location: x}\nenvironments:\n  prod:\n    variables: {TOKEN: '${PROD_ONLY}'}\n", "test", nil)
		require.NoError(t, err)
	})
}

// TestInterpolationAfterOverride: ${VAR} is expanded in the document the chosen environment
// sees (base merged with its override), so a base value the environment replaces needs no
// variables, while errors still point at the node holding the ${VAR}.
func TestInterpolationAfterOverride(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		env     string
		lookup  map[string]string
		check   func(t *testing.T, s ServiceSpec)
		wantErr string // the only error, after the directory
	}{
		{"a variable only the overridden value uses need not be set", `name: web
type: Backend Service
image:
  location: ${IMAGE}
  port: 8080
environments:
  test:
    image:
      location: web:dev
`, "test", nil, func(t *testing.T, s ServiceSpec) {
			assert.Equal(t, "web:dev", s.Task.Image)
			assert.Equal(t, 8080, s.Task.Port, "the base's other keys stay")
		}, ""},
		{"a variable in a value the environment keeps must be set", `name: web
type: Backend Service
image:
  location: ${IMAGE}
  port: 8080
environments:
  test:
    image:
      port: 9090
`, "test", nil, nil, "deck/svc.yaml:4:13: image.location: variable IMAGE is not set; set it, or give a default with ${IMAGE:-value}"},
		{"a variable in the override is reported at the override", `name: web
type: Backend Service
image:
  location: ${IMAGE}
  port: 8080
environments:
  test:
    image:
      location: ${TEST_IMAGE}
`, "test", nil, nil, "deck/svc.yaml:9:17: environments.test.image.location: variable TEST_IMAGE is not set; set it, or give a default with ${TEST_IMAGE:-value}"},
		{"DECK_ENV in the base is the chosen environment", `name: web
type: Backend Service
image:
  location: web:${DECK_ENV}
environments:
  prod:
    variables: {WHERE: '${DECK_ENV}'}
`, "prod", nil, func(t *testing.T, s ServiceSpec) {
			assert.Equal(t, "web:prod", s.Task.Image)
			assert.Equal(t, map[string]string{"WHERE": "prod"}, s.Task.Variables)
		}, ""},
		{"an anchor the merge shares is expanded once", `name: web
type: Backend Service
image: {location: x}
variables: &v {A: '$${X}'}
labels: *v
environments:
  test:
    labels: {B: c}
`, "test", map[string]string{"X": "expanded twice"}, func(t *testing.T, s ServiceSpec) {
			assert.Equal(t, map[string]string{"A": "${X}"}, s.Task.Variables)
			assert.Equal(t, map[string]string{"A": "${X}", "B": "c"}, s.Task.Labels)
		}, ""},
		{"an anchor in an overridden value is expanded where it is still used", `name: web
type: Backend Service
image:
  location: &img '${REGISTRY}/web'
variables: {IMAGE: *img}
environments:
  test:
    image: {location: web:dev}
`, "test", map[string]string{"REGISTRY": "r"}, func(t *testing.T, s ServiceSpec) {
			assert.Equal(t, "web:dev", s.Task.Image)
			assert.Equal(t, map[string]string{"IMAGE": "r/web"}, s.Task.Variables)
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir, err := loadService1(t, tt.yaml, tt.env, tt.lookup)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, filepath.Join(dir, tt.wantErr), err.Error())
				return
			}
			require.NoError(t, err)
			tt.check(t, s)
		})
	}
}

// TestOverrideReplacesConstraints: an override's placement.constraints replaces the base's
// as a whole, so an environment can lift or change a constraint, not only add one; the rest
// of placement still merges key by key.
func TestOverrideReplacesConstraints(t *testing.T) {
	const base = `name: web
type: Backend Service
image: {location: x}
placement:
  strategy: binpack
  constraints:
    distinct_host: true
    attributes: {zone: a}
environments:
`
	zoneA := []Constraint{{Kind: ConstraintDistinctHost}, {Kind: ConstraintEquals, Attribute: "zone", Values: []string{"a"}}}
	tests := []struct {
		name     string
		override string // under environments:
		want     Placement
	}{
		{"other attributes replace the base's", "  test:\n    placement: {constraints: {attributes: {disk: ssd}}}\n",
			Placement{Strategy: "binpack", Constraints: []Constraint{{Kind: ConstraintEquals, Attribute: "disk", Values: []string{"ssd"}}}}},
		{"an empty map lifts them all", "  test:\n    placement: {constraints: {}}\n",
			Placement{Strategy: "binpack"}},
		{"placement without constraints keeps the base's", "  test:\n    placement: {strategy: spread}\n",
			Placement{Strategy: "spread", Constraints: zoneA}},
		{"another environment's override does not apply", "  prod:\n    placement: {constraints: {}}\n",
			Placement{Strategy: "binpack", Constraints: zoneA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := loadServiceIn(t, zonedApp, base+tt.override, "test", nil)
			require.NoError(t, err)
			assert.Equal(t, tt.want, s.Placement)
		})
	}
}
