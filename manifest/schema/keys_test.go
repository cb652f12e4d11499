package schema

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/deckhq/deck/manifest"
)

// The schema types in types.go are written to the files' shape, apart from the reader in
// package manifest: this test keeps them in step. At each map of the files it puts a key
// deck does not know, reads the "valid keys: ..." of deck's own error, and compares them
// with the properties the schema gives that map. A key added to the reader and not to the
// schema (or the other way round) fails here.

const probe = "zz_probe"

// schemaProps returns the property names of the object the schema allows at path (keys
// separated by dots) below the definition def of the schema file, following $ref and the
// object alternative of anyOf/oneOf.
func schemaProps(t *testing.T, file, def, path string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, manifest.SchemaDir, file))
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))
	defs := doc["$defs"].(map[string]any)
	var object func(s map[string]any) map[string]any
	object = func(s map[string]any) map[string]any {
		if ref, ok := s["$ref"].(string); ok {
			return object(defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any))
		}
		if _, ok := s["properties"]; ok {
			return s
		}
		for _, k := range []string{"anyOf", "oneOf"} {
			alts, _ := s[k].([]any)
			for _, a := range alts {
				if o := object(a.(map[string]any)); o != nil {
					return o
				}
			}
		}
		return nil
	}
	// mapOf is the object schema of the values of a map of names (environments).
	mapOf := func(s map[string]any) map[string]any {
		if add, ok := s["additionalProperties"].(map[string]any); ok {
			return object(add)
		}
		return nil
	}
	s := object(defs[def].(map[string]any))
	for _, key := range strings.Split(path, ".") {
		if key == "" {
			continue
		}
		require.NotNil(t, s, "no object at %s in %s", path, file)
		p, ok := s["properties"].(map[string]any)[key].(map[string]any)
		require.True(t, ok, "%s has no %s at %s", file, key, path)
		if items, ok := p["items"].(map[string]any); ok {
			p = items
		}
		if o := object(p); o != nil {
			s = o
		} else {
			s = mapOf(p)
		}
	}
	require.NotNil(t, s, "no object at %s in %s", path, file)
	var out []string
	for k := range s["properties"].(map[string]any) {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// readerKeys sets the map at path of the YAML document (keys separated by dots; "[0]"
// after a key is its list's first item) to seed plus zz_probe: 1 (or adds the key to the
// map there when seed is ""), writes the file, loads it with load, and returns the valid keys deck's error lists.
func readerKeys(t *testing.T, doc, path, seed, file string, load func() error) []string {
	t.Helper()
	var n yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(doc), &n))
	m := n.Content[0]
	for _, key := range strings.Split(path, ".") {
		if key == "" {
			continue
		}
		first := strings.HasSuffix(key, "[0]")
		key = strings.TrimSuffix(key, "[0]")
		var v *yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				v = m.Content[i+1]
			}
		}
		if v == nil || v.Kind != yaml.MappingNode && !first {
			// Absent or a short form: make it a map.
			nv := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			if v == nil {
				m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, nv)
				v = nv
			} else {
				*v = *nv
			}
		}
		if first {
			v = v.Content[0]
		}
		m = v
	}
	if seed != "" {
		// What the map must hold for deck to read on to its keys (a build's context).
		var sn yaml.Node
		require.NoError(t, yaml.Unmarshal([]byte(seed), &sn))
		*m = *sn.Content[0]
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: probe}, &yaml.Node{Kind: yaml.ScalarNode, Value: "1"})
	out, err := yaml.Marshal(&n)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, out, 0o600))
	err = load()
	require.Error(t, err, "deck accepted %s at %q", probe, path)
	want := regexp.QuoteMeta(strings.TrimPrefix(path+"."+probe, "."))
	want = strings.ReplaceAll(want, `\[0\]`, `\[0\]`)
	re := regexp.MustCompile(want + `: unknown key "` + probe + `"; valid keys: ([^\n]*)`)
	got := re.FindStringSubmatch(err.Error())
	require.NotNil(t, got, "no unknown-key error at %s in:\n%v", path, err)
	keys := strings.Split(got[1], ", ")
	sort.Strings(keys)
	return keys
}

func TestSchemaKeysAreTheKeysDeckReads(t *testing.T) {
	dir := t.TempDir()
	app, err := os.ReadFile(filepath.Join(root, "examples/hello/deck.yaml"))
	require.NoError(t, err)
	svc, err := os.ReadFile(filepath.Join(root, "examples/hello/deck/hello.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "deck"), 0o755))
	appFile, svcFile := filepath.Join(dir, "deck.yaml"), filepath.Join(dir, "deck", "hello.yaml")
	require.NoError(t, os.WriteFile(svcFile, svc, 0o600))
	env := func(string) (string, bool) { return "", false }

	appDef := strings.TrimPrefix(schemaRef(t, manifest.AppSchemaFile), "#/$defs/")
	for _, path := range []string{"", "environments.test", "environments.test.load_balancers[0]", "environments.test.controller", "environments.test.controller.etcd"} {
		t.Run("deck.yaml/"+path, func(t *testing.T) {
			got := readerKeys(t, string(app), path, "", appFile, func() error {
				_, err := manifest.LoadApp(appFile, env)
				return err
			})
			assert.Equal(t, got, schemaProps(t, manifest.AppSchemaFile, appDef, strings.ReplaceAll(strings.ReplaceAll(path, "[0]", ""), "environments.test", "environments")))
		})
	}

	require.NoError(t, os.WriteFile(appFile, []byte("app: hello\nenvironments:\n  test: {hosts: [{name: h1, url: unix:///run/podman/podman.sock}]}\n"), 0o600))
	a, err := manifest.LoadApp(appFile, env)
	require.NoError(t, err)
	svcDef := strings.TrimPrefix(schemaRef(t, manifest.ServiceSchemaFile), "#/$defs/")
	seeds := map[string]string{"image.build": "{context: .}", "count": "{range: 1-3}", "count.cooldown": "{}"}
	for _, path := range []string{"", "image", "image.build", "healthcheck", "http", "http.healthcheck", "count", "count.cooldown", "placement", "deployment"} {
		t.Run("service/"+path, func(t *testing.T) {
			doc := string(svc)
			if path == "count.cooldown" {
				doc = strings.Replace(doc, "count: 3", "count: {range: 1-3, cpu_percentage: 70}", 1)
			}
			got := readerKeys(t, doc, path, seeds[path], svcFile, func() error {
				_, err := manifest.LoadServices(a, "test", env)
				return err
			})
			assert.Equal(t, got, schemaProps(t, manifest.ServiceSchemaFile, svcDef, path))
		})
	}
}

// schemaRef is the $ref at the top of a schema file: its root definition.
func schemaRef(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, manifest.SchemaDir, file))
	require.NoError(t, err)
	var doc struct {
		Ref string `json:"$ref"`
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	return doc.Ref
}
