package cli

import (
	"github.com/spf13/cobra"
)

// NewCmdHosts builds `deck hosts`.
func NewCmdHosts(deps Deps, g *Globals, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{Deps: deps, Globals: g}
	return &cobra.Command{
		Use:   "hosts",
		Short: "List the environment's hosts: reachable, Podman version, capacity used and free",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			st, err := collectStatus(cmd.Context(), deps, g)
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return writeJSON(deps, st.Hosts)
			}
			printHosts(deps, st.Hosts)
			return nil
		},
	}
}
