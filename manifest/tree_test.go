package manifest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMergeKeys: YAML merge keys work where deck walks the nodes itself, with the map's own
// keys winning and an earlier source winning over a later one.
func TestMergeKeys(t *testing.T) {
	const svc = `name: web
type: Backend Service
image: {location: x}
variables: &vars {A: base, B: base}
labels:
  <<: [{team: a, tier: "1"}, {team: b, owner: c}]
  tier: "2"
environments:
  test: &test
    count: 2
    variables:
      <<: *vars
      B: test
  prod:
    <<: *test
    cpu: 512
`
	s, _, err := loadService1(t, svc, "test", nil)
	require.NoError(t, err)
	assert.Equal(t, 2, s.Count.Value)
	assert.Equal(t, map[string]string{"A": "base", "B": "test"}, s.Task.Variables)
	assert.Equal(t, map[string]string{"team": "a", "tier": "2", "owner": "c"}, s.Task.Labels)

	s, _, err = loadService1(t, svc, "prod", nil)
	require.NoError(t, err)
	assert.Equal(t, 2, s.Count.Value, "prod merges test's override")
	assert.Equal(t, int64(512), s.Task.CPU)
	assert.Equal(t, map[string]string{"A": "base", "B": "test"}, s.Task.Variables)
}

func TestMergeKeysInHosts(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck.yaml": `app: hello
environments:
  test:
    hosts:
      - &h {name: h1, url: "unix:///run/h1.sock", attributes: {zone: a}}
      - <<: *h
        name: h2
        url: "unix:///run/h2.sock"
`})
	app, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(nil))
	require.NoError(t, err)
	env, err := app.Environment("test")
	require.NoError(t, err)
	require.Len(t, env.Hosts, 2)
	assert.Equal(t, "h2", env.Hosts[1].Name)
	assert.Equal(t, map[string]string{"zone": "a"}, env.Hosts[1].Attributes)
}

// TestExtensionFields: top-level x- keys hold anchors, as in Compose; they are not settings,
// an unset variable in one is no error, and below the top level x- is an unknown key.
func TestExtensionFields(t *testing.T) {
	const svc = `x-defaults: &defaults
  cpu: 512
  variables:
    MODE: ${UNSET_IN_EXTENSION}
x-health: &health {path: /ready}
name: web
type: Backend Service
image: {location: x, port: 8080}
<<: *defaults
variables: {MODE: fast}
healthcheck: *health
`
	s, _, err := loadService1(t, svc, "test", nil)
	require.NoError(t, err)
	assert.Equal(t, int64(512), s.Task.CPU)
	require.NotNil(t, s.Task.Healthcheck)
	assert.Equal(t, "/ready", s.Task.Healthcheck.Path)
	assert.Equal(t, map[string]string{"MODE": "fast"}, s.Task.Variables)

	_, _, err = loadService1(t, "name: web\ntype: Backend Service\nimage: {location: x, port: 8080, x-note: a}\n", "test", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `image.x-note: unknown key "x-note"`)

	dir := writeFiles(t, map[string]string{"deck.yaml": `x-host: &host {attributes: {zone: a}}
app: hello
environments:
  test:
    hosts:
      - {<<: *host, name: h1, url: "unix:///run/h1.sock"}
`})
	app, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(nil))
	require.NoError(t, err)
	env, err := app.Environment("test")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"zone": "a"}, env.Hosts[0].Attributes)
}

func TestTreeErrors(t *testing.T) {
	const head = "name: web\ntype: Backend Service\n"
	tests := []struct{ name, yaml, want string }{
		{"a custom tag", "image: {location: !Ref Image}\n",
			"deck/svc.yaml:3:19: image.location: !Ref is a custom YAML tag, which deck does not read; remove it and write the value itself"},
		{"merging a scalar", "image: {location: x}\nlabels: {<<: 3}\n",
			"deck/svc.yaml:4:14: labels.<<: << merges maps, and this is 3; want <<: *anchor, or <<: [*a, *b], naming anchored maps"},
		{"an alias inside its own anchor", "image: {location: x}\nlabels: &l {a: *l}\n",
			"deck/svc.yaml:4:16: labels.a: alias *l is used inside its own anchor, so its value would never end; use it after the anchored value instead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dir, err := loadService1(t, head+tt.yaml, "test", nil)
			require.Error(t, err)
			assert.Equal(t, filepath.Join(dir, tt.want), err.Error())
		})
	}
	t.Run("standard tags are fine", func(t *testing.T) {
		s, _, err := loadService1(t, head+"image: {location: !!str x}\ncount: !!int 2\n", "test", nil)
		require.NoError(t, err)
		assert.Equal(t, 2, s.Count.Value)
	})
}

// TestAliasBomb: aliases of aliases cannot make a small file expand without bound.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: web\ntype: Backend Service\nimage: {location: x}\nlabels:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("  a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	_, _, err := loadService1(t, b.String(), "test", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the document grows past 100000 values through aliases; use fewer aliases")
}
