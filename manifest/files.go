package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// serviceFiles expands the services globs into paths relative to deck.yaml's directory.
// Whatever a glob matches that cannot be a manifest (a directory, a dangling symbolic link)
// and the .yml files beside the .yaml ones are reported, not skipped: a service that is
// silently left out is a service a deploy silently does not run. The problems go to
// app.fileErrs and are reported with the services, so that status and delete, which need
// only deck.yaml, still work while the service manifests are broken.
func (l *appLoader) serviceFiles(patterns []string) []string {
	f := &fileFinder{l: l, d: &decoder{file: l.d.file, errs: &l.app.fileErrs, nodes: l.d.nodes}, seen: map[string]bool{}}
	given := f.d.has("services")
	if !given {
		patterns = []string{DefaultServiceGlob}
	}
	for i, p := range patterns {
		f.glob(p, indexPath("services", i), given)
	}
	f.ymlSiblings(patterns)
	if len(f.files) == 0 && len(l.app.fileErrs) == 0 {
		f.none(given, len(patterns))
	}
	sort.Strings(f.files)
	return f.files
}

// fileFinder collects the service files of the services globs.
type fileFinder struct {
	l     *appLoader
	d     *decoder
	seen  map[string]bool // relative paths already matched or reported
	files []string
}

func (f *fileFinder) glob(p, path string, given bool) {
	if filepath.IsAbs(p) {
		f.d.at(path, "%s is an absolute path; want globs relative to deck.yaml's directory, such as deck/*.yaml (the manifests live with the app)", quote(p))
		return
	}
	matches, err := filepath.Glob(filepath.Join(f.l.app.Dir, p))
	if err != nil {
		f.d.at(path, "%s is not a valid glob: %v; want a pattern such as deck/*.yaml", quote(p), err)
		return
	}
	if len(matches) == 0 && given {
		f.d.at(path, "%s matches no files; want globs relative to deck.yaml's directory, such as deck/*.yaml", quote(p))
	}
	for _, m := range matches {
		rel := f.rel(m)
		if f.seen[rel] || f.isAppFile(m) {
			// A glob such as *.yaml matches deck.yaml itself, which is no service.
			continue
		}
		f.seen[rel] = true
		if msg := notAManifest(m); msg != "" {
			f.fail(rel, msg)
			continue
		}
		f.files = append(f.files, rel)
	}
}

// ymlSiblings reports the .yml files a .yaml glob would have matched: they look like
// manifests to their author, and deck would never read them.
func (f *fileFinder) ymlSiblings(patterns []string) {
	for _, p := range patterns {
		stem, ok := strings.CutSuffix(p, ".yaml")
		if !ok {
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(f.l.app.Dir, stem+".yml"))
		for _, m := range matches {
			rel := f.rel(m)
			if f.seen[rel] || f.isAppFile(m) {
				continue
			}
			f.seen[rel] = true
			f.fail(rel, fmt.Sprintf("not read: services matches %s, and this file ends in .yml; rename it to %s, or add %s to services: in deck.yaml",
				p, strings.TrimSuffix(filepath.Base(rel), ".yml")+".yaml", quote(stem+".yml")))
		}
	}
}

// none reports an app without a single service manifest: planning it would destroy every
// task the app runs, which is what deck delete is for.
func (f *fileFinder) none(given bool, patterns int) {
	const want = "want one manifest per service, such as deck/web.yaml (deck init writes one)"
	switch {
	case given && patterns == 0:
		f.d.at("services", "the list is empty, so the app has no services; want globs such as [\"deck/*.yaml\"], or leave services out for that default")
		return
	case given:
		f.d.at("services", "the services globs match no service manifests; %s", want)
		return
	}
	msg := fmt.Sprintf("the app has no services: %s matches no files; %s", DefaultServiceGlob, want)
	dir := filepath.Join(f.l.app.Dir, filepath.Dir(DefaultServiceGlob))
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		msg = fmt.Sprintf("the app has no services: there is no %s/ directory beside deck.yaml; %s", filepath.Dir(DefaultServiceGlob), want)
	}
	*f.d.errs = append(*f.d.errs, &Error{File: f.l.app.File, Msg: msg})
}

func (f *fileFinder) fail(rel, msg string) {
	*f.d.errs = append(*f.d.errs, &Error{File: filepath.Join(filepath.Dir(f.l.app.File), rel), Msg: msg})
}

func (f *fileFinder) rel(m string) string {
	rel, err := filepath.Rel(f.l.app.Dir, m)
	if err != nil {
		return m
	}
	return rel
}

func (f *fileFinder) isAppFile(m string) bool {
	fi, err := os.Stat(m)
	return err == nil && f.l.appInfo != nil && os.SameFile(fi, f.l.appInfo)
}

// notAManifest says why a path a glob matched cannot be read as a manifest, or "" when it
// may be (reading it says more: a FIFO, say, is refused by readFile).
func notAManifest(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		if lfi, lerr := os.Lstat(path); lerr == nil && lfi.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(path)
			switch {
			case errors.Is(err, syscall.ELOOP):
				return "this is a symbolic link in a loop (it leads back to itself); fix the link, or remove it"
			case errors.Is(err, fs.ErrNotExist):
				return fmt.Sprintf("this is a symbolic link to %s, which does not exist; fix the link, or remove it", quote(target))
			}
		}
		return "file " + statReason(err)
	}
	if fi.IsDir() {
		return "this is a directory, not a service manifest; rename or remove it, or change services: in deck.yaml so it does not match"
	}
	return ""
}
