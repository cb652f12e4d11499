package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// VersionJSON is deck version's -o json.
type VersionJSON struct {
	Version string `json:"version"`
	// Commit is the git commit deck was built from; "" when the build did not record one.
	Commit string `json:"commit"`
	Go     string `json:"go"`
	OS     string `json:"os"`
	Arch   string `json:"arch"`
}

// NewCmdVersion builds `deck version`.
func NewCmdVersion(deps Deps, g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print deck's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := deps.Version
			if v == "" {
				v = "dev"
			}
			commit := buildCommit(deps)
			if g.Output == "json" {
				return writeJSON(deps, VersionJSON{Version: v, Commit: commit, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH})
			}
			if commit == "" {
				commit = "unknown"
			}
			fmt.Fprintf(deps.IO.Out, "deck %s (commit %s, %s, %s/%s)\n", v, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
