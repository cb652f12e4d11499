package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// NewCmdVersion builds `deck version`.
func NewCmdVersion(deps Deps) *cobra.Command {
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
			if commit == "" {
				commit = "unknown"
			}
			fmt.Fprintf(deps.IO.Out, "deck %s (commit %s, %s, %s/%s)\n", v, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
