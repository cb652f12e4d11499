package manifest

import (
	"os"
	"path/filepath"
)

// checkLocal reports what this machine lacks to deploy the service: a secret's variable or
// file, a Containerfile named in the manifest (and, for deck validate, the build context). Without these checks they
// surface in the middle of deck plan, with no file or line; here each is reported at the
// key that names it. The secret's value is never read, only whether there is one.
func (s *serviceLoader) checkLocal() {
	for _, sec := range s.spec.Secrets {
		s.checkSecretSource(sec)
	}
	if b := s.spec.Image.Build; b != nil {
		s.checkBuild(b)
	}
}

func (s *serviceLoader) checkSecretSource(sec Secret) {
	p := joinPath("secrets", sec.Name)
	switch {
	case sec.FromEnv != "":
		if s.has(joinPath(p, "from_env")) {
			p = joinPath(p, "from_env")
		}
		v, ok := s.lookup(sec.FromEnv)
		switch {
		case !ok:
			s.at(p, "variable %s is not set; set it to the secret's value in the environment that runs deck", sec.FromEnv)
		case v == "":
			s.at(p, "variable %s is empty; set it to the secret's value", sec.FromEnv)
		case len(v) >= MaxSecretSize:
			s.at(p, "variable %s holds %d bytes, and Podman stores secrets below %d bytes (500 KiB); keep the secret small and mount larger files as a volume", sec.FromEnv, len(v), MaxSecretSize)
		}
	case sec.File != "":
		p = joinPath(p, "file")
		fi, err := os.Stat(sec.File)
		switch {
		case err != nil:
			s.at(p, "file %s %s; want a file holding the secret's value, relative to deck.yaml's directory", s.shown(p, sec.File), statReason(err))
		case fi.IsDir():
			s.at(p, "%s is a directory; want a file holding the secret's value", s.shown(p, sec.File))
		case fi.Mode().IsRegular() && fi.Size() == 0:
			s.at(p, "file %s is empty; put the secret's value in it", s.shown(p, sec.File))
		case fi.Size() >= MaxSecretSize:
			s.at(p, "file %s holds %d bytes, and Podman stores secrets below %d bytes (500 KiB); keep the secret small and mount larger files as a volume", s.shown(p, sec.File), fi.Size(), MaxSecretSize)
		}
	}
}

// checkBuild checks the Containerfile when the manifest names one. The build context, and
// a Containerfile or Dockerfile in it when none is named, are checked only by deck validate
// (strict): deck init writes a manifest before its author writes the Containerfile, and
// templates are tested by loading what they render, so loading must not need them; plan
// still fails on them when it reads the context.
func (s *serviceLoader) checkBuild(b *BuildSpec) {
	if cp := "image.build.containerfile"; s.has(cp) {
		if fi, err := os.Stat(b.Containerfile); err != nil || fi.IsDir() {
			reason := "is a directory"
			if err != nil {
				reason = statReason(err)
			}
			s.at(cp, "file %s %s; want the Containerfile, relative to deck.yaml's directory", s.shown(cp, b.Containerfile), reason)
		}
	}
	if !s.strict {
		return
	}
	p := "image.build"
	if s.has(joinPath(p, "context")) {
		p = joinPath(p, "context")
	}
	fi, err := os.Stat(b.Context)
	switch {
	case err != nil:
		s.at(p, "build context %s %s; want the directory to build the image from, relative to deck.yaml's directory", s.shown(p, b.Context), statReason(err))
	case !fi.IsDir():
		s.at(p, "build context %s is not a directory; want the directory to build the image from", s.shown(p, b.Context))
	case !s.has("image.build.containerfile") && !fileExists(b.Containerfile):
		s.at(p, "build context %s holds no Containerfile or Dockerfile; add one, or name it with build: {context: ..., containerfile: <file>}", s.shown(p, b.Context))
	}
}

// shown is a path as the manifest wrote it, with the absolute path it means when they
// differ: ./web (/home/me/shop/web).
func (s *serviceLoader) shown(path, abs string) string {
	n := s.node(path)
	if n == nil || n.Value == "" || filepath.Clean(n.Value) == abs {
		return abs
	}
	return clip(n.Value) + " (" + abs + ")"
}
