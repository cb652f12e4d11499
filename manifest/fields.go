package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// decode reads the document over the type's defaults; keys it leaves out keep them.

func (s *serviceLoader) decode(doc *yaml.Node) {
	t := &s.spec.Task
	s.mapping(doc, "", []field{
		{"name", func(n *yaml.Node, p string) { s.spec.Name, _ = s.str(n, p) }},
		{"type", func(*yaml.Node, string) {}}, // read first, by workloadType
		{"image", s.image},
		{"command", func(n *yaml.Node, p string) { t.Command, _ = s.words(n, p) }},
		{"entrypoint", func(n *yaml.Node, p string) { t.Entrypoint, _ = s.words(n, p) }},
		{"cpu", func(n *yaml.Node, p string) {
			if v, ok := s.intRange(n, p, 2, 262144, " ECS units (1024 = 1 vCPU)"); ok {
				t.CPU = int64(v)
			}
		}},
		{"memory", func(n *yaml.Node, p string) {
			if v, ok := s.intRange(n, p, 6, -1, " MiB"); ok {
				t.Memory = int64(v)
			}
		}},
		{"count", s.count},
		{"variables", func(n *yaml.Node, p string) { t.Variables = s.stringMap(n, p, checkVariableName) }},
		{"secrets", s.secrets},
		{"healthcheck", s.healthcheck},
		{"http", s.http},
		{"deployment", s.deployment},
		{"placement", s.placement},
		{"stop_timeout", func(n *yaml.Node, p string) {
			if v, ok := s.duration(n, p, true); ok {
				t.StopTimeout = v
			}
		}},
		{"labels", func(n *yaml.Node, p string) { t.Labels = s.stringMap(n, p, checkLabelKey) }},
		{"volumes", s.volumes},
		{"logging", s.logging},
		{"on", s.on},
		{"schedule", func(n *yaml.Node, p string) { s.spec.Schedule, _ = s.str(n, p) }},
		{"retries", func(n *yaml.Node, p string) {
			s.spec.Retries, _ = s.intRange(n, p, 0, maxRetries, " more tries of a failed run")
		}},
		{"timeout", func(n *yaml.Node, p string) { s.spec.Timeout, _ = s.duration(n, p, false) }},
		{"concurrency", func(n *yaml.Node, p string) {
			s.spec.Concurrency, _ = s.intRange(n, p, 1, maxConcurrency, " runs at once")
		}},
		{"environments", func(*yaml.Node, string) {}}, // split off and applied before decoding
	})
}

func checkVarName(k string) string {
	if !isVarName(k) {
		return fmt.Sprintf("%s is not a valid variable name; want letters, digits and _, not starting with a digit", quote(k))
	}
	return ""
}

// checkVariableName validates a name in variables, which the container sees beside the
// variables deck sets itself.
func checkVariableName(k string) string {
	if msg := checkVarName(k); msg != "" {
		return msg
	}
	return checkDeckPrefix(k, "variable")
}

// deckVariables are the variables deck sets in every task's container.
var deckVariables = []string{"DECK_APP", "DECK_ENV", "DECK_SERVICE", "DECK_REVISION", "DECK_TASK_ID", "DECK_HOST"}

// checkDeckPrefix refuses names starting with DECK_: deck sets those in every container,
// and one of the service's own would clash with them, now or when deck adds another.
func checkDeckPrefix(k, what string) string {
	if !strings.HasPrefix(k, "DECK_") {
		return ""
	}
	return fmt.Sprintf("%s %s starts with DECK_, which deck keeps for the variables it sets (%s); choose another name, such as %s",
		what, clip(k), strings.Join(deckVariables, ", "), clip(strings.TrimPrefix(k, "DECK_")))
}

func checkLabelKey(k string) string {
	switch {
	case strings.TrimSpace(k) == "":
		return "a label key is empty; want a key such as team"
	case strings.HasPrefix(k, "deck."):
		return fmt.Sprintf("label %s starts with \"deck.\", which deck keeps for its own labels; choose another key, such as %s", quote(k), quote(strings.TrimPrefix(k, "deck.")))
	}
	return ""
}

func (s *serviceLoader) image(n *yaml.Node, path string) {
	s.mapping(n, path, []field{
		{"build", s.build},
		{"location", func(n *yaml.Node, p string) {
			if v, ok := s.str(n, p); ok {
				if v == "" || strings.ContainsAny(v, " \t") {
					s.errorf(n, p, "%s is not an image reference; want one such as registry.example.com/web:1.2", quote(v))
				}
				s.spec.Image.Location, s.spec.Task.Image = v, v
			}
		}},
		{"port", func(n *yaml.Node, p string) { s.spec.Task.Port, _ = s.intRange(n, p, 1, 65535, "") }},
		{"host_port", func(n *yaml.Node, p string) {
			s.spec.Task.HostPort, _ = s.intRange(n, p, 0, 65535, " (0 picks a free port)")
		}},
	})
}

// build reads image.build: a context directory, or a map with context, containerfile and args.

// Paths are made absolute from deck.yaml's directory.

func (s *serviceLoader) build(n *yaml.Node, path string) {
	b := &BuildSpec{}
	s.spec.Image.Build = b
	switch n.Kind {
	case yaml.ScalarNode:
		b.Context, _ = s.str(n, path)
	case yaml.MappingNode:
		s.mapping(n, path, []field{
			{"context", func(n *yaml.Node, p string) { b.Context, _ = s.str(n, p) }},
			{"containerfile", func(n *yaml.Node, p string) { b.Containerfile, _ = s.str(n, p) }},
			{"args", func(n *yaml.Node, p string) { b.Args = s.stringMap(n, p, checkVarName) }},
		})
		if !s.has(joinPath(path, "context")) {
			s.errorf(n, joinPath(path, "context"), "build has no context; want context: <directory>, such as context: ./web")
		}
	default:
		s.errorf(n, path, "found %s; want a directory such as ./web, or a map with context, containerfile and args", describe(n))
		return
	}
	if b.Context == "" {
		b.Context = "."
	}
	b.Context = s.appPath(b.Context)
	switch {
	case b.Containerfile != "":
		b.Containerfile = s.appPath(b.Containerfile)
	case fileExists(filepath.Join(b.Context, "Containerfile")):
		b.Containerfile = filepath.Join(b.Context, "Containerfile")
	default:
		b.Containerfile = filepath.Join(b.Context, "Dockerfile")
	}
}

// appPath makes p absolute from deck.yaml's directory, so it means the same from any

// working directory.

func (s *serviceLoader) appPath(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(s.app.Dir, p)
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
