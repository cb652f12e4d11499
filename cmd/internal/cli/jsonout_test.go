package cli

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goldenJSON checks that out is JSON (one document, or one a line when lines is set),
// replaces what varies from run to run by the placeholders of replace (old, new pairs),
// and compares it with testdata/name.
func goldenJSON(t *testing.T, name, out string, lines bool, replace ...string) {
	t.Helper()
	require.NotEmpty(t, out)
	if lines {
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			require.True(t, json.Valid([]byte(l)), "not a JSON line: %s", l)
		}
	} else {
		var v any
		require.NoError(t, json.Unmarshal([]byte(out), &v), "not one JSON document: %s", out)
	}
	golden(t, name, strings.NewReplacer(replace...).Replace(out))
}

var (
	// A task id is 8 hex digits; after a colon it is a JSON number (a memory size).
	taskIDs      = regexp.MustCompile(`(:\s*)?\b[0-9a-f]{8}\b`)
	containerIDs = regexp.MustCompile(`\bh\d+-c\d{6}\b`) // the fake hosts'

	fingerprints = regexp.MustCompile(`"fingerprint": "[0-9a-f]+"`)
	timestamps   = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
)

// stable replaces what changes from run to run in the JSON out of a harness's deck: the
// test's directory, task ids (8 hex digits: random, numbered here in order of appearance),
// and the container ids that go with them (in the order of the random ids on a host), the
// plan's fingerprint (made of them), and, with times, every timestamp.
func stable(h *harness, out string, times bool) string {
	out = strings.ReplaceAll(out, h.dir, "$DIR")
	out = fingerprints.ReplaceAllString(out, `"fingerprint": "FINGERPRINT"`)
	number := func(re *regexp.Regexp, format string) {
		seen := map[string]string{}
		out = re.ReplaceAllStringFunc(out, func(id string) string {
			if strings.HasPrefix(id, ":") {
				return id
			}
			if _, ok := seen[id]; !ok {
				seen[id] = fmt.Sprintf(format, len(seen)+1)
			}
			return seen[id]
		})
	}
	number(taskIDs, "task%04d")
	number(containerIDs, "container%04d")
	if times {
		out = timestamps.ReplaceAllString(out, "TIME")
	}
	return out
}

// errorOf decodes the error document a failing command prints with -o json.
func errorOf(t *testing.T, out string) ErrorJSON {
	t.Helper()
	require.Equal(t, 1, strings.Count(out, "\n"), "the error document is one line: %q", out)
	var doc struct {
		Error *ErrorJSON `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
	require.NotNil(t, doc.Error, out)
	return *doc.Error
}

func TestErrorsAreJSONWhenJSONIsAsked(t *testing.T) {
	h := newHarness(t)
	code, out, errOut := h.run("history", "api", "-o", "json")
	assert.Equal(t, 1, code)
	assert.Empty(t, errOut, "no Error: text besides the JSON")
	e := errorOf(t, out)
	assert.Equal(t, "error", e.Kind)
	assert.Equal(t, 1, e.Code, "the exit status")
	assert.Contains(t, e.Message, "service api has no revisions")
	goldenJSON(t, "error.json", out, false)

	// The same failure as text.
	code, out, errOut = h.run("history", "api")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.True(t, strings.HasPrefix(errOut, "Error: service api has no revisions"), errOut)
}

func TestUsageErrorsAreJSONWhenJSONIsAsked(t *testing.T) {
	h := newHarness(t)
	// cobra stops at the unknown flag before deck reads its settings, whichever side of it
	// -o json is.
	for _, args := range [][]string{{"plan", "--bogus", "-o", "json"}, {"-ojson", "plan", "--bogus"}, {"--output=json", "plan", "--bogus"}} {
		code, out, errOut := h.run(args...)
		assert.Equal(t, 1, code, args)
		e := errorOf(t, out)
		assert.Equal(t, []any{"usage", 1, "unknown flag: --bogus"}, []any{e.Kind, e.Code, e.Message}, args)
		assert.Contains(t, errOut, "Usage:", "the usage goes to stderr")
		assert.NotContains(t, errOut, "Error:")
	}
	code, out, _ := h.run("task", "run", "-o", "json")
	assert.Equal(t, 1, code)
	goldenJSON(t, "error-usage.json", out, false)

	// -o json then -o table: the last one counts, so text.
	code, out, errOut := h.run("plan", "-o", "json", "-o", "table", "--bogus")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "Error: unknown flag: --bogus")

	t.Setenv("DECK_OUTPUT", "json")
	code, out, _ = h.run("plan", "--bogus")
	assert.Equal(t, 1, code)
	assert.Equal(t, "usage", errorOf(t, out).Kind)
}

func TestManifestErrorsAreTheErrorDocument(t *testing.T) {
	h := newHarness(t)
	h.write("deck/api.yaml", strings.Replace(strings.Replace(apiManifest, "COUNT", "three", 1), "memory: 128", "memroy: 128", 1))
	for _, cmd := range []string{"validate", "plan", "deploy", "rollback"} {
		args := []string{cmd, "-o", "json", "--yes"}
		if cmd == "rollback" {
			args = append(args, "api")
		}
		if cmd == "validate" || cmd == "plan" {
			args = args[:3]
		}
		code, out, errOut := h.run(args...)
		assert.Equal(t, 1, code, cmd)
		assert.Empty(t, errOut, cmd)
		e := errorOf(t, out)
		assert.Equal(t, "manifest", e.Kind, cmd)
		require.Len(t, e.Errors, 2, cmd)
		assert.Equal(t, []any{6, 1, "memroy"}, []any{e.Errors[0].Line, e.Errors[0].Column, e.Errors[0].Path}, cmd)
		if cmd == "validate" {
			goldenJSON(t, "error-manifest.json", out, false, h.dir, "$DIR")
		}
	}
}

// deck plan --out that cannot save: the error alone, not the plan and then the error.
func TestPlanJSONIsThePlanOrTheError(t *testing.T) {
	h := newHarness(t)
	code, out, errOut := h.run("plan", "-o", "json", "--out", h.dir+"/no/such/dir/plan.json")
	assert.Equal(t, 1, code, errOut)
	e := errorOf(t, out)
	assert.Contains(t, e.Message, "no such file or directory")

	code, out, errOut = h.run("plan", "-o", "json", "--out", h.dir+"/plan.json")
	assert.Equal(t, 2, code, "changes to make: %s", errOut)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
	assert.Contains(t, doc, "changes")
	assert.NotContains(t, doc, "error")
}
