package manifest

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/bad")

// TestBadManifests validates each testdata/bad/NAME (deck.yaml plus deck/*.yaml), as deck
// validate does, and compares the error text with NAME.golden. An optional NAME/env file
// names the environment to check (else every environment is checked),
// and an optional NAME/vars file sets variables (NAME=VALUE lines) besides HOME.
// Paths under the case's directory are shown relative to it, so goldens are stable.
func TestBadManifests(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "bad"))
	require.NoError(t, err)
	cases := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		cases++
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "bad", name)
			env := ""
			if b, err := os.ReadFile(filepath.Join(dir, "env")); err == nil {
				env = strings.TrimSpace(string(b))
			}
			lookup := mapLookup(caseVars(t, dir))
			loadErr := Validate(filepath.Join(dir, "deck.yaml"), env, lookup).Err()
			require.Error(t, loadErr, "a bad manifest must not validate")

			abs, err := filepath.Abs(dir)
			require.NoError(t, err)
			got := strings.ReplaceAll(loadErr.Error(), abs+string(filepath.Separator), "")
			got = strings.ReplaceAll(got, dir+string(filepath.Separator), "") + "\n"

			golden := filepath.Join("testdata", "bad", name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./manifest -run TestBadManifests -update to create it")
			assert.Equal(t, string(want), got)
		})
	}
	assert.GreaterOrEqual(t, cases, 30)
}

// mapLookup is a lookupEnv over a fixed map, so tests never depend on the real environment.
func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// caseVars is the environment a case is loaded with: HOME, and the case's vars file.
func caseVars(t *testing.T, dir string) map[string]string {
	vars := map[string]string{"HOME": "/home/deck"}
	b, err := os.ReadFile(filepath.Join(dir, "vars"))
	if err != nil {
		return vars
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "vars lines are NAME=VALUE: %q", line)
		vars[k] = v
	}
	return vars
}
