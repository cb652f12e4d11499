package cli

import "runtime/debug"

// buildCommit is the commit deck was built from: the one the release build stamped in, else
// the one the Go toolchain records when it builds inside a git checkout (go build, make
// build), with "+dirty" when the checkout had changes. "" when neither is known (go test).
func buildCommit(deps Deps) string {
	if deps.Commit != "" {
		return deps.Commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" && modified == "true" {
		rev += "+dirty"
	}
	return rev
}
