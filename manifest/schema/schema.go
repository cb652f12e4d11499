// Package schema generates the JSON Schemas of deck.yaml and of the service manifests from
// the types in types.go, which describe the files as users write them. The schemas are
// checked in under schema/ at the repository's root; make schema (go generate) writes them
// again after a change to the types, and TestSchemaIsGenerated fails until it is run.
package schema

//go:generate go run ./gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/invopop/jsonschema"

	"github.com/deckhq/deck/manifest"
)

// pkgPath is this package's import path, which AddGoComments keys the comments by.
const pkgPath = "github.com/deckhq/deck/manifest/schema"

// Generate returns the schema files, by name (manifest.AppSchemaFile and
// manifest.ServiceSchemaFile). It reads the doc comments of the types from the Go files in
// the working directory, which must be this package's: go generate and go test run there.
func Generate() (map[string][]byte, error) {
	r := &jsonschema.Reflector{
		Anonymous:                  true,
		RequiredFromJSONSchemaTags: true,
		Mapper:                     mapper,
	}
	if err := r.AddGoComments(pkgPath, ".", jsonschema.WithFullComment()); err != nil {
		return nil, fmt.Errorf("read the types' comments: %w", err)
	}
	out := map[string][]byte{}
	for name, v := range map[string]any{manifest.AppSchemaFile: &App{}, manifest.ServiceSchemaFile: &Service{}} {
		b, err := json.Marshal(r.Reflect(v))
		if err != nil {
			return nil, err
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, err
		}
		doc["$id"] = manifest.SchemaBaseURL + name
		finish(doc)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return nil, err
		}
		out[name] = buf.Bytes()
	}
	return out, nil
}

// Patterns of the values deck checks by their form.
const (
	// namePattern is an app, environment or service name (manifest.checkName).
	namePattern = `^[a-z][a-z0-9-]*$`
	// hostPattern is a host's or a load balancer's name.
	hostPattern = `^[a-z0-9-]+$`
	// varPattern is a variable's or a secret's name.
	varPattern = `^[A-Za-z_][A-Za-z0-9_]*$`
	// volumePattern is a volume's name, as Podman accepts it.
	volumePattern = `^[A-Za-z0-9][A-Za-z0-9_.-]*$`
	// durationPattern is a non-negative Go duration (time.ParseDuration).
	durationPattern = `^(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+$`
	// sizePattern is a number of bytes with a unit (manifest's decoder.size), in any case.
	sizePattern = `^ *([0-9]+(\.[0-9]*)?|\.[0-9]+) *([bB]|[kKmMgG][iI]?[bB]?) *$`
	// rangePattern is a count range written min-max.
	rangePattern = `^ *[0-9]+ *- *[0-9]+ *$`
)

var (
	scalarTypes = []any{"string", "number", "boolean", "null"}
	durationT   = reflect.TypeOf(Duration(""))
	sizeT       = reflect.TypeOf(Size(""))
	wordsT      = reflect.TypeOf(Words(nil))
	stringsT    = reflect.TypeOf(Strings(nil))
	scalarT     = reflect.TypeOf(Scalar(""))
)

// mapper gives the scalar types their schemas: what YAML forms deck reads for them.
func mapper(t reflect.Type) *jsonschema.Schema {
	switch t {
	case scalarT:
		return &jsonschema.Schema{Extras: map[string]any{"type": scalarTypes}}
	case durationT:
		return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
			{Type: "string", Pattern: durationPattern},
			{Type: "number", Minimum: "0"},
		}}
	case sizeT:
		return &jsonschema.Schema{Type: "string", Pattern: sizePattern}
	case wordsT, stringsT:
		return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
			{Type: "string"},
			{Type: "array", Items: &jsonschema.Schema{Extras: map[string]any{"type": scalarTypes}}},
		}}
	}
	return nil
}

// orScalar makes s, an object's schema, take alt too: the short form of a key such as
// healthcheck: /healthz for healthcheck: {path: /healthz}.
func orScalar(s *jsonschema.Schema, alt *jsonschema.Schema) {
	obj := *s
	obj.Description = ""
	*s = jsonschema.Schema{Description: s.Description, AnyOf: []*jsonschema.Schema{alt, &obj}}
}

// property sets keywords of s's property name.
func property(s *jsonschema.Schema, name string, set func(*jsonschema.Schema)) {
	p, ok := s.Properties.Get(name)
	if !ok {
		panic("schema: no property " + name)
	}
	set(p)
}

func pattern(p string) func(*jsonschema.Schema) {
	return func(s *jsonschema.Schema) { s.Pattern = p }
}

// names constrains the keys of the map property name.
func names(s *jsonschema.Schema, name string, keys *jsonschema.Schema) {
	property(s, name, func(p *jsonschema.Schema) { p.PropertyNames = keys })
}

func maxLen(n uint64) *uint64 { return &n }

// notPrefix is a name that does not start with prefix (a regexp).
func notPrefix(p, prefix string, max uint64) *jsonschema.Schema {
	s := &jsonschema.Schema{Pattern: p, Not: &jsonschema.Schema{Pattern: "^" + prefix}}
	if max > 0 {
		s.MaxLength = maxLen(max)
	}
	return s
}

func (App) JSONSchemaExtend(s *jsonschema.Schema) {
	property(s, "app", func(p *jsonschema.Schema) { p.Pattern, p.MaxLength = namePattern, maxLen(40) })
	names(s, "environments", &jsonschema.Schema{Pattern: namePattern, MaxLength: maxLen(40)})
}

func (Host) JSONSchemaExtend(s *jsonschema.Schema) {
	property(s, "name", pattern(hostPattern))
	property(s, "url", pattern(`^(unix|ssh)://`))
}

func (LoadBalancer) JSONSchemaExtend(s *jsonschema.Schema) {
	property(s, "name", pattern(hostPattern))
	property(s, "admin", pattern(`^/`))
}

func (Service) JSONSchemaExtend(s *jsonschema.Schema) {
	property(s, "name", func(p *jsonschema.Schema) { p.Pattern, p.MaxLength = namePattern, maxLen(40) })
	property(s, "type", func(p *jsonschema.Schema) {
		for _, t := range manifest.WorkloadTypes {
			p.Enum = append(p.Enum, string(t))
		}
	})
	names(s, "variables", notPrefix(varPattern, "DECK_", 0))
	names(s, "secrets", notPrefix(varPattern, "DECK_", 63))
	names(s, "labels", notPrefix(`^.*\S`, `deck\.`, 0))
	names(s, "volumes", &jsonschema.Schema{Pattern: volumePattern})
	names(s, "environments", &jsonschema.Schema{Pattern: namePattern, MaxLength: maxLen(40)})
}

func (Build) JSONSchemaExtend(s *jsonschema.Schema) {
	names(s, "args", &jsonschema.Schema{Pattern: varPattern})
	orScalar(s, &jsonschema.Schema{Type: "string", Description: "The build context directory."})
}

func (Count) JSONSchemaExtend(s *jsonschema.Schema) {
	orScalar(s, &jsonschema.Schema{Type: "integer", Minimum: "0", Description: "A fixed number of tasks."})
}

func (Range) JSONSchemaExtend(s *jsonschema.Schema) {
	orScalar(s, &jsonschema.Schema{Type: "string", Pattern: rangePattern, Description: "min-max, such as 1-10."})
}

func (Cooldown) JSONSchemaExtend(s *jsonschema.Schema) {
	d := mapper(durationT)
	d.Description = "For both directions."
	orScalar(s, d)
}

func (Secret) JSONSchemaExtend(s *jsonschema.Schema) {
	property(s, "from_env", pattern(varPattern))
	orScalar(s, &jsonschema.Schema{Type: "string", Pattern: varPattern, Description: "The variable of deck's own environment that holds the value."})
}

func (Healthcheck) JSONSchemaExtend(s *jsonschema.Schema) {
	orScalar(s, &jsonschema.Schema{Type: "string", Description: "The path of an HTTP GET on the published port."})
}

func (TargetHealthcheck) JSONSchemaExtend(s *jsonschema.Schema) {
	orScalar(s, &jsonschema.Schema{Type: "string", Description: "The path checked."})
}

func (Volume) JSONSchemaExtend(s *jsonschema.Schema) {
	property(s, "host_path", pattern(`^/`))
}

// finish completes a reflected schema (as JSON values) with what reflection cannot say.
func finish(doc map[string]any) {
	defs := doc["$defs"].(map[string]any)
	for name, d := range defs {
		defs[name] = interpolated(d)
	}
	defs["Interpolated"] = map[string]any{
		"type":        "string",
		"pattern":     `\$\{`,
		"description": "${VAR} or ${VAR:-default}: replaced by the variable's value when deck reads the file.",
	}
	if _, ok := defs["Override"]; ok {
		override(defs)
	}
	for name, d := range defs {
		if !strings.HasSuffix(name, "Override") {
			nullable(d)
		}
	}
	// Top-level x- keys are extension fields (manifest.dropExtensions), as in Compose.
	if ref, ok := doc["$ref"].(string); ok {
		root := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		root["patternProperties"] = map[string]any{"^x-": map[string]any{
			"description": "An extension field, which deck ignores: a place for the anchors the file merges in (x-defaults: &defaults).",
		}}
	}
}

// interpolated lets ${VAR} stand for any value whose form the schema checks (a number, a
// boolean, an enum, a pattern): deck expands it before it reads the value, so count:
// ${COUNT} is a count. A free string takes ${VAR} as it is.
func interpolated(v any) any {
	switch v := v.(type) {
	case []any:
		for i := range v {
			v[i] = interpolated(v[i])
		}
		return v
	case map[string]any:
		for k, c := range v {
			switch k {
			case "properties", "$defs", "patternProperties":
				m := c.(map[string]any)
				for pk, pc := range m {
					m[pk] = interpolated(pc)
				}
			case "items", "additionalProperties", "anyOf", "oneOf", "allOf":
				v[k] = interpolated(c)
			}
		}
		t, _ := v["type"].(string)
		checked := t == "integer" || t == "number" || t == "boolean" ||
			(t == "string" && (v["pattern"] != nil || v["enum"] != nil))
		if !checked {
			return v
		}
		desc := v["description"]
		delete(v, "description")
		out := map[string]any{"anyOf": []any{v, map[string]any{"$ref": "#/$defs/Interpolated"}}}
		if desc != nil {
			out["description"] = desc
		}
		return out
	}
	return v
}

// override derives the schema of an environment's override from the service's: the same
// keys but name, type and environments, none of them required (the override is merged over
// the file, which may hold the rest), under copies of the definitions named NAMEOverride.
func override(defs map[string]any) {
	desc := defs["Override"].(map[string]any)["description"]
	names := make([]string, 0, len(defs))
	for name := range defs {
		names = append(names, name)
	}
	for _, name := range names {
		if name != "Override" && name != "Interpolated" {
			defs[name+"Override"] = overrideCopy(defs[name])
		}
	}
	o := defs["ServiceOverride"].(map[string]any)
	delete(defs, "ServiceOverride")
	props := o["properties"].(map[string]any)
	for _, k := range []string{"name", "type", "environments"} {
		delete(props, k)
	}
	o["description"] = desc
	defs["Override"] = o
}

func overrideCopy(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i := range v {
			out[i] = overrideCopy(v[i])
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, c := range v {
			switch {
			case k == "required":
				continue
			case k == "$ref" && c != "#/$defs/Interpolated" && c != "#/$defs/Override":
				out[k] = c.(string) + "Override"
			case k == "properties" || k == "$defs":
				m := map[string]any{}
				for pk, pc := range c.(map[string]any) {
					m[pk] = overrideCopy(pc)
				}
				out[k] = m
			default:
				out[k] = overrideCopy(c)
			}
		}
		return out
	}
	return v
}

// nullable lets each key of the objects in v be null: deck reads `key:` with nothing after
// it as the key left out. (Not in an override, where a null is an error: it would reset
// the key to deck's default rather than keep the file's value.)
func nullable(v any) {
	switch v := v.(type) {
	case []any:
		for _, c := range v {
			nullable(c)
		}
	case map[string]any:
		for k, c := range v {
			if k != "properties" {
				nullable(c)
				continue
			}
			props := c.(map[string]any)
			for pk, pc := range props {
				nullable(pc)
				p := pc.(map[string]any)
				if t, ok := p["type"].(string); ok {
					p["type"] = []any{t, "null"}
					if enum, ok := p["enum"].([]any); ok {
						p["enum"] = append(enum, nil)
					}
					continue
				}
				desc := p["description"]
				delete(p, "description")
				wrapped := map[string]any{"anyOf": []any{p, map[string]any{"type": "null"}}}
				if desc != nil {
					wrapped["description"] = desc
				}
				props[pk] = wrapped
			}
		}
	}
}
