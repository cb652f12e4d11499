package manifest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestValidateEveryEnvironment: a typo in prod's override fails deck validate, not the
// first deploy to prod; -e test checks test only.
func TestValidateEveryEnvironment(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck.yaml": testApp, testKey: "",
		"deck/web.yaml": "name: web\ntype: Worker Service\nimage: {location: x}\nenvironments:\n  prod:\n    cuont: 3\n"})
	path := filepath.Join(dir, "deck.yaml")

	r := Validate(path, "", mapLookup(nil))
	require.Len(t, r.Envs, 2)
	assert.Equal(t, "prod", r.Envs[0].Name)
	assert.Equal(t, 1, r.Envs[0].Errors)
	assert.Equal(t, "test", r.Envs[1].Name)
	assert.Equal(t, 0, r.Envs[1].Errors)
	require.Len(t, r.Envs[1].Services, 1)
	require.Error(t, r.Err())
	assert.Contains(t, r.Err().Error(), "deck/web.yaml:6:5: environments.prod.cuont: unknown key")

	r = Validate(path, "test", mapLookup(nil))
	require.NoError(t, r.Err())
	require.Len(t, r.Envs, 1)
	assert.Equal(t, 1, len(r.Envs[0].Environment.Hosts))
}

func TestValidateChecksTheBuildContext(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck.yaml": "app: hello\n", "web/README": "no Containerfile here",
		"deck/web.yaml": "name: web\ntype: Worker Service\nimage: {build: ./web}\n"})
	path := filepath.Join(dir, "deck.yaml")
	_, _, _, err := Load(path, "", mapLookup(nil))
	require.NoError(t, err, "loading does not need the Containerfile (deck init writes the manifest first)")
	err = Validate(path, "", mapLookup(nil)).Err()
	assert.EqualError(t, err, filepath.Join(dir, "deck/web.yaml")+":3:16: image.build: build context ./web ("+filepath.Join(dir, "web")+
		") holds no Containerfile or Dockerfile; add one, or name it with build: {context: ..., containerfile: <file>}")
}

// TestValidateManyEnvironments: one mistake in each of thousands of environments is
// reported in full in the list, and rendered in a few lines.
func TestValidateManyEnvironments(t *testing.T) {
	const n = 2000
	var app, svc strings.Builder
	app.WriteString("app: hello\nenvironments:\n")
	svc.WriteString("name: web\ntype: Worker Service\nimage: {location: x}\nenvironments:\n")
	for i := range n {
		fmt.Fprintf(&app, "  env-%d: {hosts: [{name: h, url: 'unix:///run/%d.sock'}]}\n", i, i)
		fmt.Fprintf(&svc, "  env-%d: {cuont: 1}\n  nev-%d: {count: 1}\n", i, i)
	}
	dir := writeFiles(t, map[string]string{"deck.yaml": app.String(), "deck/web.yaml": svc.String()})
	r := Validate(filepath.Join(dir, "deck.yaml"), "", mapLookup(nil))
	require.Len(t, r.Errors, 2*n, "a misspelt key in each override, and each unknown environment once")
	text := r.Err().Error()
	assert.Len(t, strings.Split(text, "\n"), MaxShown+1)
	assert.Less(t, len(text), 50_000)
	assert.Contains(t, text, `environment "nev-0" is not in deck.yaml; did you mean "env-0"? valid: env-0, env-1,`)
	assert.Contains(t, text, "env-1014 and 1980 more\n", "valid names are listed up to 20")
}

// TestLoadServicesWithOnlyLocalProblems: an unset secret variable fails the load, but the
// services come with the error, for deck status, which needs no secret.
func TestLoadServicesWithOnlyLocalProblems(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck.yaml": "app: hello\n",
		"deck/web.yaml": "name: web\ntype: Worker Service\nimage: {location: x}\ncount: 2\nsecrets: {TOKEN: TOKEN}\n"})
	app, err := LoadApp(filepath.Join(dir, "deck.yaml"), mapLookup(nil))
	require.NoError(t, err)
	specs, err := LoadServices(app, "", mapLookup(nil))
	require.EqualError(t, err, filepath.Join(dir, "deck/web.yaml")+":5:18: secrets.TOKEN: variable TOKEN is not set; set it to the secret's value in the environment that runs deck")
	require.Len(t, specs, 1)
	assert.Equal(t, 2, specs[0].Count.Value)

	app.ServiceFiles = append(app.ServiceFiles, "deck/missing.yaml")
	specs, err = LoadServices(app, "", mapLookup(nil))
	require.Error(t, err)
	assert.Nil(t, specs, "with a manifest problem, there are no services to show")
}

func TestValidateCountsSharedErrorsInEachEnvironment(t *testing.T) {
	dir := writeFiles(t, map[string]string{"deck.yaml": testApp + "extra: 1\n", testKey: "",
		"deck/web.yaml": "name: web\ntype: Worker Service\nimage: {location: x}\n"})
	r := Validate(filepath.Join(dir, "deck.yaml"), "", mapLookup(nil))
	require.Len(t, r.Envs, 2)
	assert.Equal(t, 1, r.Envs[0].Errors, "a mistake in deck.yaml affects prod")
	assert.Equal(t, 1, r.Envs[1].Errors, "and test")
}

// An app file given with --file is named as it is in the errors about it.
func TestUnknownEnvironmentNamesTheAppFileGiven(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"deck-shared.yaml": "app: hello\nenvironments:\n  qa: {hosts: [{name: h, url: 'unix:///run/h.sock'}]}\n",
		"deck/web.yaml":    "name: web\ntype: Worker Service\nimage: {location: x}\nenvironments:\n  staging: {count: 1}\n",
	})
	err := Validate(filepath.Join(dir, "deck-shared.yaml"), "", mapLookup(nil)).Err()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `environments.staging: environment "staging" is not in deck-shared.yaml; valid: qa`)
}
