package manifest

import (
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// secrets reads NAME: VAR (shorthand for from_env) or NAME: {from_env: VAR | file: path,
// type: env | mount}.
func (s *serviceLoader) secrets(n *yaml.Node, path string) {
	var out []Secret
	s.pairs(n, path, "a map of secret names to their source", func(k, v *yaml.Node, kp string) {
		s.nodes[kp] = v
		if msg := checkSecretName(k.Value); msg != "" {
			s.errorf(k, kp, "%s", msg)
			return
		}
		if sec, ok := s.secret(k.Value, v, kp); ok {
			out = append(out, sec)
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	s.spec.Secrets = out
	s.spec.Task.Secrets = nil
	for _, sec := range out {
		// The digest is filled by whoever reads the value (executor.Resolve, with ReadSecret):
		// loading a manifest never needs the secret itself.
		s.spec.Task.Secrets = append(s.spec.Task.Secrets, SecretRef{Name: sec.Name, Type: sec.Type})
	}
}

const secretWant = "want a variable name such as DB_PASSWORD, or a map with one of from_env or file"

// secret reads one secret's source and type.
func (s *serviceLoader) secret(name string, v *yaml.Node, kp string) (Secret, bool) {
	sec := Secret{Name: name}
	switch v.Kind {
	case yaml.ScalarNode:
		sec.FromEnv = v.Value
	case yaml.MappingNode:
		s.mapping(v, kp, []field{
			{"from_env", func(n *yaml.Node, p string) { sec.FromEnv, _ = s.str(n, p) }},
			{"file", func(n *yaml.Node, p string) {
				if f, ok := s.str(n, p); ok && f != "" {
					sec.File = s.appPath(f)
				}
			}},
			{"type", func(n *yaml.Node, p string) { sec.Type, _ = s.secretType(n, p) }},
		})
		if s.has(joinPath(kp, "from_env")) == s.has(joinPath(kp, "file")) {
			s.errorf(v, kp, "secret %s needs exactly one of from_env or file; %s", name, secretWant)
			return sec, false
		}
	default:
		s.errorf(v, kp, "found %s; %s", describe(v), secretWant)
		return sec, false
	}
	if sec.FromEnv != "" && !isVarName(sec.FromEnv) {
		s.errorf(v, kp, "%s is not a variable name; %s", quote(sec.FromEnv), secretWant)
		return sec, false
	}
	return sec, true
}

// secretType reads type: env (the default, kept as "" so that the revisions of existing
// secrets do not change) or mount.
func (s *serviceLoader) secretType(n *yaml.Node, path string) (string, bool) {
	v, ok := s.str(n, path)
	switch {
	case !ok:
		return "", false
	case v == "env":
		return "", true
	case v == SecretMount:
		return v, true
	}
	s.errorf(n, path, "%s is not a secret type;%s want env (an environment variable) or mount (a file at /run/secrets/NAME)",
		quote(v), suggest(v, []string{"env", SecretMount}))
	return "", false
}

// checkSecretName validates a secret's name: the variable it is injected as, or the name of
// its file under /run/secrets, and part of the Podman secret's name.
func checkSecretName(k string) string {
	if !isVarName(k) || len(k) > 63 {
		return fmt.Sprintf("%s is not a valid secret name; want letters, digits and _, not starting with a digit, at most 63 characters", quote(k))
	}
	return checkDeckPrefix(k, "secret")
}

// healthcheck reads a path (the string shorthand) or a map; unset fields keep the defaults.
func (s *serviceLoader) healthcheck(n *yaml.Node, path string) {
	hc := defaultHealthcheck()
	s.spec.Task.Healthcheck = &hc
	if n.Kind == yaml.ScalarNode {
		hc.Path, _ = s.str(n, path)
		s.nodes[joinPath(path, "path")] = n
		return
	}
	s.mapping(n, path, []field{
		{"path", func(n *yaml.Node, p string) { hc.Path, _ = s.str(n, p) }},
		{"command", func(n *yaml.Node, p string) {
			if n.Kind == yaml.ScalarNode {
				// A string is run by the container's shell, as Docker's CMD-SHELL.
				hc.Command = []string{"CMD-SHELL", n.Value}
				return
			}
			hc.Command, _ = s.stringList(n, p)
		}},
		{"interval", func(n *yaml.Node, p string) { hc.Interval = s.durationOr(n, p, false, hc.Interval) }},
		{"timeout", func(n *yaml.Node, p string) { hc.Timeout = s.durationOr(n, p, false, hc.Timeout) }},
		{"retries", func(n *yaml.Node, p string) { hc.Retries, _ = s.intRange(n, p, 1, 100, " attempts") }},
		{"start_period", func(n *yaml.Node, p string) { hc.StartPeriod = s.durationOr(n, p, true, hc.StartPeriod) }},
	})
}

// durationOr decodes a duration, keeping old when the value is wrong (the error is reported).
func (s *serviceLoader) durationOr(n *yaml.Node, path string, allowZero bool, old time.Duration) time.Duration {
	if v, ok := s.duration(n, path, allowZero); ok {
		return v
	}
	return old
}

// volumes reads NAME: {path} (a named volume) or NAME: {host_path, path} (a bind mount).
func (s *serviceLoader) volumes(n *yaml.Node, p string) {
	var out []Volume
	targets := map[string]string{} // mount point -> the volume first mounted there
	s.pairs(n, p, "a map of volume names to {path: /mount/point} or {host_path: /dir, path: /mount/point}", func(k, v *yaml.Node, kp string) {
		s.nodes[kp] = v
		if !volumeName(k.Value) {
			s.errorf(k, kp, "%s is not a valid volume name; want letters, digits, _, . and -, starting with a letter or digit", quote(k.Value))
			return
		}
		vol := Volume{Type: "volume", Source: k.Value}
		s.mapping(v, kp, []field{
			{"path", func(n *yaml.Node, p string) { vol.Target, _ = s.str(n, p) }},
			{"host_path", func(n *yaml.Node, p string) {
				vol.Type = "bind"
				vol.Source, _ = s.str(n, p)
				if !filepath.IsAbs(vol.Source) {
					s.errorf(n, p, "%s is not an absolute path; want a directory on the host such as /var/log/web", quote(vol.Source))
				}
			}},
			{"read_only", func(n *yaml.Node, p string) { vol.ReadOnly, _ = s.boolean(n, p) }},
		})
		if v.Kind != yaml.MappingNode {
			return
		}
		tp := joinPath(kp, "path")
		switch {
		case !s.has(tp):
			s.errorf(v, tp, "volume %s has no path; want path: <mount point in the container>, such as path: /data", k.Value)
		case !strings.HasPrefix(vol.Target, "/") || vol.Target == "/":
			s.at(tp, "%s is not an absolute path below /; want a mount point in the container such as /data", quote(vol.Target))
		}
		if first, dup := targets[path.Clean(vol.Target)]; dup && vol.Target != "" {
			s.at(tp, "%s is also the path of volume %s; each volume needs its own path in the container", quote(vol.Target), first)
			return
		}
		targets[path.Clean(vol.Target)] = k.Value
		out = append(out, vol)
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	s.spec.Task.Volumes = out
}

// volumeName reports whether s is a name Podman accepts for a volume.
func volumeName(s string) bool {
	for i, r := range s {
		ok := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') ||
			(i > 0 && (r == '_' || r == '.' || r == '-'))
		if !ok {
			return false
		}
	}
	return s != ""
}

// minLogMaxSize is the smallest log cap: below it a task's log would hold a few lines.
const minLogMaxSize = 64_000

// logging reads logging: {max_size: 20m}.
func (s *serviceLoader) logging(n *yaml.Node, path string) {
	lg := &Logging{MaxSize: DefaultLogMaxSize}
	s.spec.Task.Logging = lg
	s.mapping(n, path, []field{
		{"max_size", func(n *yaml.Node, p string) {
			if v, ok := s.size(n, p, minLogMaxSize); ok {
				lg.MaxSize = v
			}
		}},
	})
}
