package manifest

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const workerManifest = "name: web\ntype: Worker Service\nimage: {location: x}\n"

func TestServicesGlobSkipsTheAppFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck.yaml": "app: hello\nservices: ['*.yaml']\n", "web.yaml": workerManifest})
	app, _, specs, err := Load(filepath.Join(dir, "deck.yaml"), "", mapLookup(nil))
	require.NoError(t, err)
	assert.Equal(t, []string{"web.yaml"}, app.ServiceFiles)
	require.Len(t, specs, 1)
}

func TestFIFOInDeckDirDoesNotBlock(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck.yaml": "app: hello\n", "deck/web.yaml": workerManifest})
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "deck", "pipe.yaml"), 0o644))
	done := make(chan error, 1)
	go func() { _, _, _, err := Load(filepath.Join(dir, "deck.yaml"), "", mapLookup(nil)); done <- err }()
	select {
	case err := <-done:
		assert.EqualError(t, err, filepath.Join(dir, "deck", "pipe.yaml")+": file is a named pipe (FIFO), not a regular file; want a YAML file saved on disk")
	case <-time.After(5 * time.Second):
		t.Fatal("reading the FIFO blocked")
	}
}

// TestServiceProblemsDoNotStopLoadApp: status and delete need only deck.yaml, so a broken
// services glob is reported with the services, not by LoadApp.
func TestServiceProblemsDoNotStopLoadApp(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck.yaml": "app: hello\nservices: [svc/*.yaml]\n"})
	app, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(nil))
	require.NoError(t, err)
	_, err = LoadServices(app, "", mapLookup(nil))
	assert.EqualError(t, err, filepath.Join(dir, "deck.yaml")+`:2:12: services[0]: "svc/*.yaml" matches no files; want globs relative to deck.yaml's directory, such as deck/*.yaml`)
}

// TestAbsoluteServiceGlob: an absolute glob is refused as such, not as matching nothing
// (it would be joined to deck.yaml's directory).
func TestAbsoluteServiceGlob(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck/web.yaml": "name: web\ntype: Worker Service\nimage: {location: x}\n"})
	abs := filepath.Join(dir, "deck", "*.yaml")
	dir2 := writeFiles(t, map[string]string{"deck.yaml": "app: hello\nservices: ['" + abs + "']\n"})
	app, err := LoadApp(filepath.Join(dir2, "deck.yaml"), mapLookup(nil))
	require.NoError(t, err)
	_, err = LoadServices(app, "", mapLookup(nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `:2:12: services[0]: "`+abs+`" is an absolute path; want globs relative to deck.yaml's directory`)
}
