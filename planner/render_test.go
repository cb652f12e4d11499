package planner

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./planner -update to create it")
	assert.Equal(t, string(want), string(got))
}

// mixedPlan has every action, two waves, a deleted service and warnings. Task ids and
// revision ids are fixed so the golden file does not move.
func mixedPlan(t *testing.T) *Plan {
	h := newHarness(t)
	h.host("h1", 8192, 16384, map[string]string{"zone": "a"})
	h.host("h2", 8192, 16384, map[string]string{"zone": "b"})
	h.host("h3", 8192, 16384, map[string]string{"zone": "b"})
	v1 := service("web", 4, webTask())
	h.run("h1", v1.Revision, "4f2a1b2c")
	h.run("h2", v1.Revision, "77aa1b2c")
	h.run("h3", v1.Revision, "5b6c7d8e")
	h.run("h3", v1.Revision, "9e8d7c6b")
	api := service("api", 3, manifest.TaskDef{Image: "web:1", CPU: 128, Memory: 256})
	h.run("h1", api.Revision, "1a2b3c4d")
	h.run("h2", api.Revision, "2b3c4d5e")
	h.run("h2", api.Revision, "3c4d5e6f")
	old := service("old", 1, webTask())
	h.run("h3", old.Revision, "6f7a8b9c")
	stray := service("stray", 1, webTask())
	h.run("h3", stray.Revision, "0d0e0f00")

	td := webTask()
	td.Image = "web:2"
	td.Variables = map[string]string{"GREETING": "hi"}
	p, err := h.compute(Options{Delete: []string{"old"}},
		service("web", 4, td, withDeployment(50, 100)),
		service("api", 5, api.Service.Task),
		service("worker", 1, manifest.TaskDef{Image: "web:1", CPU: 128, Memory: 128}, withDeployment(100, 100)),
	)
	require.NoError(t, err)
	// the fake host's container ids and the fingerprint depend on nothing random, but fix
	// the fingerprint anyway: it digests container ids made by the fake.
	p.Fingerprint = "3fa2c1d0e4b5"
	return p
}

func TestRenderTextGolden(t *testing.T) {
	p := mixedPlan(t)
	var b bytes.Buffer
	require.NoError(t, RenderText(&b, p, nil))
	golden(t, "mixed", b.Bytes())

	b.Reset()
	require.NoError(t, RenderText(&b, p, markStyle{}))
	golden(t, "mixed-marked", b.Bytes())
	assert.Contains(t, b.String(), "<create:+ task")
}

// markStyle shows where a Style is applied, so the golden file pins it without ANSI codes.
type markStyle struct{}

func (markStyle) Bold(s string) string             { return "<b:" + s + ">" }
func (markStyle) Action(a Action, s string) string { return "<" + string(a) + ":" + s + ">" }
func (markStyle) Warning(s string) string          { return "<w:" + s + ">" }

func TestRenderTextNoChanges(t *testing.T) {
	h := newHarness(t).hosts(1, 4096, 8192)
	web := service("web", 1, webTask())
	h.run("h1", web.Revision, "a1")
	stray := service("stray", 1, webTask())
	h.run("h1", stray.Revision, "a2")
	var b bytes.Buffer
	require.NoError(t, RenderText(&b, h.plan(web), nil))
	golden(t, "no-changes", b.Bytes())
}

func TestRenderTextLegendOnlyPresentActions(t *testing.T) {
	h := newHarness(t).hosts(2, 4096, 8192)
	var b bytes.Buffer
	require.NoError(t, RenderText(&b, h.plan(service("web", 2, webTask())), nil))
	golden(t, "create-only", b.Bytes())
	assert.NotContains(t, b.String(), "destroy\n")
}

func TestJSONRoundTrip(t *testing.T) {
	p := mixedPlan(t)
	var b bytes.Buffer
	require.NoError(t, RenderJSON(&b, p))
	assert.True(t, strings.HasPrefix(b.String(), "{\n  \"format_version\": 5,"), b.String()[:40])
	got, err := ReadJSON(&b)
	require.NoError(t, err)
	assert.Equal(t, p, got)
}

func TestReadJSONRefusesOtherVersions(t *testing.T) {
	_, err := ReadJSON(strings.NewReader(`{"format_version": 1, "app": "hello"}`))
	assert.EqualError(t, err, "read plan: format version 1 is not supported (this deck reads version 5); make the plan again with this deck")
	_, err = ReadJSON(strings.NewReader(`{"app": "hello"}`))
	assert.EqualError(t, err, "read plan: not a deck plan: no format_version")
	_, err = ReadJSON(strings.NewReader(`{"format_version": 5, "surprise": true}`))
	assert.EqualError(t, err, `read plan: json: unknown field "surprise"`)
}
