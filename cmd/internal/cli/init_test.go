package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/manifest"
)

// firstLine is the first line of the file at path.
func firstLine(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	line, _, _ := strings.Cut(string(b), "\n")
	return line
}

func initIn(t *testing.T, dir string) {
	t.Helper()
	ios, _, _, errOut := iostreams.Test()
	code := Main(context.Background(), []string{"--file", filepath.Join(dir, "deck.yaml"), "init", "--app", "shop",
		"--name", "web", "--type", "Backend Service", "--image", "registry.example/web:1"}, Deps{IO: ios})
	require.Equal(t, 0, code, errOut.String())
}

// Outside deck's repository the files point at the published schemas.
func TestInitWritesTheSchemaURL(t *testing.T) {
	dir := t.TempDir()
	initIn(t, dir)
	assert.Equal(t, "# yaml-language-server: $schema="+manifest.SchemaBaseURL+"deck.schema.json",
		firstLine(t, filepath.Join(dir, "deck.yaml")))
	assert.Equal(t, "# yaml-language-server: $schema="+manifest.SchemaBaseURL+"service.schema.json",
		firstLine(t, filepath.Join(dir, "deck", "web.yaml")))

	// The comment changes nothing for deck.
	_, _, svcs, err := manifest.Load(filepath.Join(dir, "deck.yaml"), "", func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	require.Len(t, svcs, 1)
}

// Inside a tree that holds schema/ (a checkout of deck's repository), the files point at
// its schemas by a relative path, so they match the code beside them.
func TestInitWritesARelativeSchemaPath(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{manifest.AppSchemaFile, manifest.ServiceSchemaFile} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, manifest.SchemaDir), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, manifest.SchemaDir, name), []byte("{}"), 0o644))
	}
	dir := filepath.Join(root, "examples", "shop")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	initIn(t, dir)
	assert.Equal(t, "# yaml-language-server: $schema=../../schema/deck.schema.json", firstLine(t, filepath.Join(dir, "deck.yaml")))
	assert.Equal(t, "# yaml-language-server: $schema=../../../schema/service.schema.json", firstLine(t, filepath.Join(dir, "deck", "web.yaml")))
}

// On a terminal, deck init asks for what the flags left out: name, type, what to run (a
// build context is offered only where a Containerfile is) and the port. A name that is not
// valid is refused at once.
func TestInitOnATerminalAsksForWhatIsMissing(t *testing.T) {
	dir := t.TempDir()
	run := func(answers string) (int, string) {
		ios, in, _, errOut := iostreams.Test()
		ios.SetTTY(true)
		in.WriteString(answers)
		code := Main(context.Background(), []string{"--file", filepath.Join(dir, "deck.yaml"), "init", "--app", "shop"}, Deps{IO: ios})
		return code, errOut.String()
	}
	code, errOut := run("Web\n")
	assert.Equal(t, 1, code)
	assert.NotContains(t, errOut, "type:", "refused before the next question")

	code, errOut = run("api\nBackend Service\n\nregistry.example/api:1\n9090\n")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "build context (a directory with a Containerfile; empty to run an existing image): ")
	assert.Contains(t, errOut, "port the service listens on [8080]: ")
	b, err := os.ReadFile(filepath.Join(dir, "deck", "api.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "registry.example/api:1")
	assert.Contains(t, string(b), "9090")
	assert.NotContains(t, string(b), "build:")
}
