package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/templates"
)

// root is the repository's root, from this package's directory.
const root = "../.."

// TestSchemaIsGenerated fails when the checked-in schemas are not what the types give now.
func TestSchemaIsGenerated(t *testing.T) {
	files, err := Generate()
	require.NoError(t, err)
	require.Len(t, files, 2)
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(root, manifest.SchemaDir, name))
		require.NoError(t, err, "run make schema to write %s", name)
		assert.True(t, bytes.Equal(want, got),
			"%s/%s is not what the types in manifest/schema give; run make schema (go generate ./manifest/schema) and commit the result", manifest.SchemaDir, name)
	}
}

// schemas compiles the checked-in schemas with an independent validator.
func schemas(t *testing.T) (app, service *jsonschema.Schema) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, name := range []string{manifest.AppSchemaFile, manifest.ServiceSchemaFile} {
		f, err := os.Open(filepath.Join(root, manifest.SchemaDir, name))
		require.NoError(t, err)
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		require.NoError(t, err)
		require.NoError(t, c.AddResource(manifest.SchemaBaseURL+name, doc))
	}
	app, err := c.Compile(manifest.SchemaBaseURL + manifest.AppSchemaFile)
	require.NoError(t, err)
	service, err = c.Compile(manifest.SchemaBaseURL + manifest.ServiceSchemaFile)
	require.NoError(t, err)
	return app, service
}

// validate checks a YAML document against s, as an editor's YAML language server does: the
// document as JSON values (anchors and merge keys resolved).
func validate(s *jsonschema.Schema, data []byte) error {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return s.Validate(doc)
}

func TestExamplesValidate(t *testing.T) {
	app, service := schemas(t)
	apps, err := filepath.Glob(filepath.Join(root, "examples", "*", "deck.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, apps)
	for _, path := range apps {
		assertValid(t, app, path)
		services, err := filepath.Glob(filepath.Join(filepath.Dir(path), "deck", "*.yaml"))
		require.NoError(t, err)
		require.NotEmpty(t, services, path)
		for _, s := range services {
			assertValid(t, service, s)
		}
	}
}

func assertValid(t *testing.T, s *jsonschema.Schema, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.NoError(t, validate(s, data), path)
}

// TestTemplatesValidate renders every starter deck init writes, in each of its variants.
func TestTemplatesValidate(t *testing.T) {
	app, service := schemas(t)
	assert.NoError(t, validate(app, templates.AppFile("shop")), "the deck.yaml starter")
	for _, typ := range manifest.WorkloadTypes {
		for _, o := range []templates.Options{{Build: "./web"}, {Image: "registry.example/web:1"}} {
			o.Name, o.Type = "web", typ
			if typ != manifest.WorkerService && typ != manifest.ScheduledJob {
				o.Port = 8080
			}
			if typ == manifest.ScheduledJob {
				o.Schedule = "0 3 * * *"
			}
			body, err := templates.Render(o)
			require.NoError(t, err)
			assert.NoError(t, validate(service, body), "%s with %+v:\n%s", typ, o, body)
		}
	}
}

// passesSchema are the golden bad manifests (manifest/testdata/bad) whose every file the
// schema accepts: each is bad only by a rule that a JSON Schema does not express, which
// deck checks in Go and deck validate reports. Every other case must be rejected by the
// schema in at least one of its files (TestBadManifestsRejected).
var passesSchema = map[string]string{
	"bad-cron":                      "a cron field's range is checked by parsing the expression",
	"bad-cron-names":                "a cron field's names are checked by parsing the expression",
	"bad-every":                     "@every's duration is checked by parsing the expression",
	"job-never-fires":               "whether a cron expression can fire needs the calendar",
	"bad-range":                     "max below min compares two numbers inside one string (1-10)",
	"max-not-above-min":             "max_percent > min_healthy_percent compares two keys",
	"range-without-target":          "a range needs one of three keys: left to Go for its message",
	"build-and-location":            "build and location exclude each other: a rule between keys",
	"no-build-no-location":          "image needs build or location: a rule between keys",
	"healthcheck-path-and-command":  "path and command exclude each other: a rule between keys",
	"schedule-twice":                "schedule and on.schedule exclude each other: a rule between keys",
	"healthcheck-path-without-port": "a healthcheck path needs image.port: a rule between keys",
	"http-on-backend":               "which keys a workload type takes depends on type, another key",
	"schedule-on-service":           "which keys a workload type takes depends on type, another key",
	"worker-port":                   "which keys a workload type takes depends on type, another key",
	"worker-healthcheck-path":       "which keys a workload type takes depends on type, another key",
	"lbws-missing-port":             "which keys a workload type needs depends on type, another key",
	"job-count":                     "which keys a workload type takes depends on type, another key",
	"missing-schedule":              "which keys a workload type needs depends on type, another key",
	"host-port-count":               "a count against the number of hosts, and volume paths against each other",
	"placement-hosts":               "constraints, cpu and memory against the hosts of deck.yaml, another file",
	"route-clash":                   "routes are compared across service files",
	"duplicate-service":             "names are compared across service files",
	"duplicate-host":                "host names are compared with the hosts_file's, and its bad key is in the hosts file, which has no schema",
	"host-checks":                   "reserved against capacity, urls against each other, an address's form and an ssh key on disk",
	"ssh-without-identity":          "identity is needed for ssh:// urls only, and a url's parts are checked by parsing it",
	"load-balancer-hosts-file":      "a load balancer's host must be one of the environment's hosts",
	"missing-hosts-file":            "a file on disk",
	"local-files":                   "files and variables on the machine deck runs on",
	"unset-variable":                "the variables of the machine deck runs on",
	"no-deck-dir":                   "files on disk",
	"service-files":                 "files on disk",
	"services-glob":                 "globs are matched against files on disk",
	"unknown-env":                   "the --env deck is given",
	"unknown-env-override":          "an override's name against deck.yaml, another file",
}

func TestBadManifestsRejected(t *testing.T) {
	app, service := schemas(t)
	dir := filepath.Join(root, "manifest", "testdata", "bad")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var passed []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		var errs []string
		check := func(s *jsonschema.Schema, path string) {
			data, err := os.ReadFile(path)
			if err != nil {
				return // a case about a missing or unreadable file
			}
			if err := validate(s, data); err != nil {
				errs = append(errs, path)
			}
		}
		check(app, filepath.Join(dir, name, "deck.yaml"))
		services, _ := filepath.Glob(filepath.Join(dir, name, "deck", "*.yaml"))
		for _, s := range services {
			check(service, s)
		}
		if len(errs) == 0 {
			passed = append(passed, name)
		}
		if reason, ok := passesSchema[name]; ok {
			assert.Empty(t, errs, "%s is listed as passing the schema (%s), but the schema rejects it", name, reason)
		} else {
			assert.NotEmpty(t, errs, "the schema accepts bad manifest %s; make the schema reject it, or list it in passesSchema with the reason it cannot", name)
		}
	}
	sort.Strings(passed)
	t.Logf("passing the schema: %s", strings.Join(passed, " "))
}

// TestExtensionFieldsValidate: the schema takes top-level x- keys, as deck does, and only there.
func TestExtensionFieldsValidate(t *testing.T) {
	app, service := schemas(t)
	assert.NoError(t, validate(service, []byte("x-defaults: &d {cpu: 512}\nname: web\ntype: Backend Service\nimage: {location: x}\n<<: *d\n")))
	assert.Error(t, validate(service, []byte("name: web\ntype: Backend Service\nimage: {location: x, x-note: a}\n")))
	assert.NoError(t, validate(app, []byte("x-note: anything\napp: shop\n")))
}
