package templates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deckhq/deck/manifest"
)

// loadRendered writes AppFile and one rendered manifest into a temp dir and loads them with
// the real loader, so a template that manifest rejects fails here.
func loadRendered(t *testing.T, o Options) manifest.ServiceSpec {
	t.Helper()
	out, err := Render(o)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "deck.yaml"), AppFile("hello"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "deck"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "deck", o.Name+".yaml"), out, 0o644))
	lookup := func(string) (string, bool) { return "", false }
	app, err := manifest.LoadApp(filepath.Join(dir, "deck.yaml"), lookup)
	require.NoError(t, err)
	specs, err := manifest.LoadServices(app, "", lookup)
	require.NoError(t, err, "rendered:\n%s", out)
	require.Len(t, specs, 1)
	return specs[0]
}

func TestEveryTypeRendersALoadableManifest(t *testing.T) {
	for _, typ := range manifest.WorkloadTypes {
		t.Run(string(typ), func(t *testing.T) {
			s := loadRendered(t, Options{Name: "svc", Type: typ})
			assert.Equal(t, typ, s.Type)
			assert.Equal(t, "svc", s.Name)
			require.NotNil(t, s.Image.Build, "the default is to build the current directory")
			assert.DirExists(t, s.Image.Build.Context)
		})
	}
}

func TestRenderOptions(t *testing.T) {
	t.Run("web service gets the default port and a healthcheck", func(t *testing.T) {
		s := loadRendered(t, Options{Name: "web", Type: manifest.LoadBalancedWebService})
		assert.Equal(t, DefaultPort, s.Task.Port)
		assert.Equal(t, "/", s.Task.Healthcheck.Path)
	})
	t.Run("image instead of build", func(t *testing.T) {
		s := loadRendered(t, Options{Name: "api", Type: manifest.BackendService, Image: "example.com/api:1", Port: 9000})
		assert.Equal(t, "example.com/api:1", s.Task.Image)
		assert.Nil(t, s.Image.Build)
		assert.Equal(t, 9000, s.Task.Port)
	})
	t.Run("build directory with awkward characters", func(t *testing.T) {
		s := loadRendered(t, Options{Name: "api", Type: manifest.WorkerService, Build: `./my dir: "x"`})
		assert.Equal(t, `my dir: "x"`, filepath.Base(s.Image.Build.Context))
	})
	t.Run("schedule", func(t *testing.T) {
		s := loadRendered(t, Options{Name: "report", Type: manifest.ScheduledJob, Schedule: "0 3 * * MON-FRI"})
		assert.Equal(t, "0 3 * * MON-FRI", s.Schedule)
		s = loadRendered(t, Options{Name: "report", Type: manifest.ScheduledJob})
		assert.Equal(t, DefaultSchedule, s.Schedule)
	})

	bad := []struct {
		name string
		o    Options
		want string
	}{
		{"unknown type", Options{Name: "x", Type: "Web"}, `"Web" is not a workload type; want one of "Load Balanced Web Service", "Backend Service", "Worker Service", "Scheduled Job"`},
		{"bad name", Options{Name: "My_Svc", Type: manifest.BackendService}, `"My_Svc" is not a valid service name`},
		{"build and image", Options{Name: "x", Type: manifest.BackendService, Build: ".", Image: "y"}, "not both"},
		{"port on a worker", Options{Name: "x", Type: manifest.WorkerService, Port: 80}, "a Worker Service takes no port"},
		{"port out of range", Options{Name: "x", Type: manifest.BackendService, Port: 70000}, "port 70000 is out of range"},
		{"bad schedule", Options{Name: "x", Type: manifest.ScheduledJob, Schedule: "daily"}, "schedule:"},
		{"schedule on a service", Options{Name: "x", Type: manifest.BackendService, Schedule: "@daily"}, "only a Scheduled Job has a schedule"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(tt.o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestAppFile(t *testing.T) {
	out := string(AppFile("hello"))
	assert.Contains(t, out, "app: hello\n")
	assert.Contains(t, out, "# environments:")
}

// TestWebServiceHTTPCommentsShowTheDefaults uncomments the http section of the web
// service's manifest: it must load, and say what a manifest without it gets.
func TestWebServiceHTTPCommentsShowTheDefaults(t *testing.T) {
	out, err := Render(Options{Name: "web", Type: manifest.LoadBalancedWebService})
	require.NoError(t, err)
	text := string(out)
	start := strings.Index(text, "\n# http:\n")
	require.GreaterOrEqual(t, start, 0, "the template shows http")
	end := start + 1 + strings.Index(text[start+1:], "\n\n")
	var lines []string
	for _, l := range strings.Split(text[start+1:end], "\n") {
		lines = append(lines, strings.TrimPrefix(l, "# "))
	}
	uncommented := text[:start+1] + strings.Join(lines, "\n") + text[end:]

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "deck.yaml"), AppFile("hello"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "deck"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "deck", "web.yaml"), []byte(uncommented), 0o644))
	lookup := func(string) (string, bool) { return "", false }
	app, err := manifest.LoadApp(filepath.Join(dir, "deck.yaml"), lookup)
	require.NoError(t, err)
	specs, err := manifest.LoadServices(app, "", lookup)
	require.NoError(t, err, "uncommented:\n%s", uncommented)
	require.NotNil(t, specs[0].HTTP)

	want := *loadRendered(t, Options{Name: "web", Type: manifest.LoadBalancedWebService}).HTTP
	want.Aliases = []string{"www.example.com"} // the one example that is not a default
	assert.Equal(t, want, *specs[0].HTTP)
}
