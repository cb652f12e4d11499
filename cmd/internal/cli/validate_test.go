package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const twoEnvApp = appFile + `  prod:
    hosts:
      - name: p1
        url: unix:///run/fake/p1.sock
`

func TestValidateChecksEveryEnvironment(t *testing.T) {
	h := newHarness(t)
	h.write("deck.yaml", twoEnvApp)
	h.write("deck/api.yaml", strings.Replace(apiManifest, "COUNT", "3", 1)+"environments:\n  prod:\n    cuont: 2\n")

	code, _, errOut := h.run("validate")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `api.yaml:16:5: environments.prod.cuont: unknown key "cuont"; did you mean "count"?`)
	assert.Contains(t, errOut, "environment prod: 1 error\nenvironment test: valid\n1 manifest error; nothing was changed.\n")

	code, out, errOut := h.run("validate", "-e", "test")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "✓ api (Backend Service) in ")
	assert.Contains(t, out, "1 service valid for app shop, environment test (2 hosts).\n")

	h.write("deck/api.yaml", strings.Replace(apiManifest, "COUNT", "3", 1))
	code, out, errOut = h.run("validate")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "1 service valid for app shop, 2 environments: prod (1 host), test (2 hosts).\n")
}

func TestManifestErrorsAsJSON(t *testing.T) {
	h := newHarness(t)
	h.write("deck/api.yaml", strings.Replace(strings.Replace(apiManifest, "COUNT", "three", 1), "memory: 128", "memroy: 128", 1))
	for _, cmd := range []string{"validate", "plan"} {
		t.Run(cmd, func(t *testing.T) {
			code, out, errOut := h.run(cmd, "-o", "json")
			assert.Equal(t, 1, code)
			assert.Empty(t, errOut)
			var wrap struct {
				Error struct {
					Message string `json:"message"`
					Code    int    `json:"code"`
					Kind    string `json:"kind"`
					Errors  []struct {
						File    string `json:"file"`
						Line    int    `json:"line"`
						Column  int    `json:"column"`
						Path    string `json:"path"`
						Message string `json:"message"`
					} `json:"errors"`
					Count int `json:"count"`
				} `json:"error"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &wrap), out)
			assert.Equal(t, 1, strings.Count(out, "\n"), "one line: %s", out)
			doc := wrap.Error
			assert.Equal(t, []any{"2 manifest errors; nothing was changed.", 1, "manifest"}, []any{doc.Message, doc.Code, doc.Kind})
			assert.Equal(t, 2, doc.Count)
			require.Len(t, doc.Errors, 2)
			assert.Equal(t, 6, doc.Errors[0].Line)
			assert.Equal(t, 1, doc.Errors[0].Column)
			assert.Equal(t, "memroy", doc.Errors[0].Path)
			assert.True(t, strings.HasSuffix(doc.Errors[0].File, "deck/api.yaml"))
			assert.Contains(t, doc.Errors[0].Message, `did you mean "memory"?`)
			assert.Equal(t, "count", doc.Errors[1].Path)
		})
	}
}

func TestManifestErrorsAreCapped(t *testing.T) {
	h := newHarness(t)
	var b strings.Builder
	b.WriteString(strings.Replace(apiManifest, "COUNT", "3", 1))
	for i := range 60 {
		fmt.Fprintf(&b, "unknown%d: x\n", i)
	}
	h.write("deck/api.yaml", b.String())
	code, _, errOut := h.run("validate")
	assert.Equal(t, 1, code)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	require.Len(t, lines, 52)
	assert.Equal(t, "and 10 more errors", lines[50])
	assert.Equal(t, "60 manifest errors; nothing was changed.", lines[51])
}

func TestConfigFileRefusesUnknownKeys(t *testing.T) {
	h := newHarness(t)
	h.write("config.yaml", "outptu: json\nenv: test\n")
	code, _, errOut := h.run("hosts")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `config.yaml: unknown key "outptu"; did you mean "output"? valid keys: builder, config, env, file, host-timeout, no-color, output, ssh-persist, yes`)

	h.write("config.yaml", "output: json\nno-color: true\n")
	code, _, errOut = h.run("hosts")
	assert.Equal(t, 0, code, errOut)
}

func TestSSHPersistIsASetting(t *testing.T) {
	h := newHarness(t)
	h.write("config.yaml", "env: test\n")
	code, _, errOut := h.run("hosts", "--ssh-persist", "-1s")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "--ssh-persist must be 0 (off) or positive, not -1s")

	h.write("config.yaml", "ssh-persist: 0s\n")
	code, _, errOut = h.run("hosts")
	assert.Equal(t, 0, code, errOut)
}
