package executor

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.podman.io/storage/pkg/fileutils"
	"golang.org/x/crypto/argon2"

	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/planner"
)

// Resolved is the desired state ready for the planner, with what apply needs to realise it:
// how to build each image, and the secret values by the Podman secret name they go under.
type Resolved struct {
	Desired []planner.Desired
	Builds  map[string]manifest.BuildSpec // image ref -> how to build it
	Secrets map[string][]byte             // Podman secret name -> value; never printed
}

// Resolve renders each service's revision: the image reference (for a build, a tag derived
// from a digest of the build context, so an unchanged context means an unchanged revision
// without building anything) and a digest of each secret's value.
// deckFiles are deck's own files (the app file and the service manifests): they describe
// the deployment, not the image, so they are left out of the context digest; otherwise
// changing a count in a manifest kept inside the build context would replace every task.
func Resolve(app, env string, specs []manifest.ServiceSpec, deckFiles []string, lookupEnv func(string) (string, bool)) (*Resolved, error) {
	r := &Resolved{Builds: map[string]manifest.BuildSpec{}, Secrets: map[string][]byte{}}
	for _, s := range specs {
		td := s.Task
		if s.Image.Build != nil {
			ref, err := BuildRef(app, s.Name, *s.Image.Build, deckFiles)
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", s.Name, err)
			}
			td.Image = ref
			r.Builds[ref] = *s.Image.Build
		}
		td.Secrets = nil
		for _, sec := range s.Secrets {
			val, err := manifest.ReadSecret(sec, lookupEnv)
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", s.Name, err)
			}
			digest := SecretDigest(app, env, s.Name, sec.Name, val)
			td.Secrets = append(td.Secrets, manifest.SecretRef{Name: sec.Name, Digest: digest, Type: sec.Type})
			r.Secrets[SecretName(app, env, s.Name, sec.Name, digest)] = val
		}
		sort.Slice(td.Secrets, func(i, j int) bool { return td.Secrets[i].Name < td.Secrets[j].Name })
		r.Desired = append(r.Desired, planner.Desired{Service: s, Revision: planner.NewRevision(s.Name, td)})
	}
	return r, nil
}

// SecretDigest identifies a secret value without revealing it. The digest is kept in labels
// and plans, so it must not be cheap to test guesses against: it is argon2id (OWASP's
// minimum: 19 MiB, 2 passes), salted with where the secret is used, so equal values of
// different secrets differ and no table can be precomputed. A strong secret is safe with
// any hash; this makes guessing a weak one cost about 20 ms a guess instead of nanoseconds.
func SecretDigest(app, env, service, name string, value []byte) string {
	salt := []byte("deck-secret\x00" + app + "\x00" + env + "\x00" + service + "\x00" + name)
	return hex.EncodeToString(argon2.IDKey(value, salt, 2, 19*1024, 1, 16))
}

// SecretName is the Podman secret a secret value is stored under on a host.
func SecretName(app, env, service, name, digest string) string {
	return SecretPrefix(app, env, service) + strings.ToLower(name) + "." + digest
}

// SecretPrefix is what every Podman secret of a service starts with. Dots separate the parts
// because names may hold dashes: service "web" must not match the secrets of "web-api".
func SecretPrefix(app, env, service string) string {
	return "deck." + app + "." + env + "." + service + "."
}

// BuildRef is the tag a build is given: localhost/deck/APP-SERVICE:DIGEST, where DIGEST
// covers every file of the context that the build sees (paths, modes, contents; files
// excluded by .containerignore or .dockerignore are left out, with the same matcher Podman
// uses when it sends the context), the Containerfile and the args. skip lists absolute
// paths left out as well.
func BuildRef(app, service string, b manifest.BuildSpec, skip []string) (string, error) {
	ignore, err := ignoreMatcher(b.Context)
	if err != nil {
		return "", err
	}
	skipped := map[string]bool{}
	for _, p := range skip {
		if abs, err := filepath.Abs(p); err == nil {
			skipped[abs] = true
		}
	}
	h := sha256.New()
	err = filepath.WalkDir(b.Context, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(b.Context, path)
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if abs, _ := filepath.Abs(path); skipped[abs] {
			return nil
		}
		// Matches is what podman-remote build uses to choose the files it sends.
		excluded, err := ignore.Matches(filepath.ToSlash(rel)) //nolint:staticcheck
		if err != nil {
			return err
		}
		if excluded {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%o\x00", filepath.ToSlash(rel), info.Mode())
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("reading build context %s: %w", b.Context, err)
	}
	cfPath := b.Containerfile
	if !filepath.IsAbs(cfPath) {
		cfPath = filepath.Join(b.Context, cfPath)
	}
	fmt.Fprintf(h, "containerfile\x00%s\x00", filepath.Base(cfPath))
	if cf, err := os.ReadFile(cfPath); err == nil {
		h.Write(cf)
	} else {
		return "", fmt.Errorf("reading containerfile: %w", err)
	}
	keys := make([]string, 0, len(b.Args))
	for k := range b.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "arg\x00%s\x00%s\x00", k, b.Args[k])
	}
	return "localhost/deck/" + app + "-" + service + ":" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// ignoreMatcher reads the context's .containerignore (or .dockerignore), as Podman does.
func ignoreMatcher(context string) (*fileutils.PatternMatcher, error) {
	var patterns []string
	for _, name := range []string{".containerignore", ".dockerignore"} {
		data, err := os.ReadFile(filepath.Join(context, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				patterns = append(patterns, line)
			}
		}
		break
	}
	pm, err := fileutils.NewPatternMatcher(patterns)
	if err != nil {
		return nil, fmt.Errorf("reading the ignore file of build context %s: %w", context, err)
	}
	return pm, nil
}
