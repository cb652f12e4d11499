package cli

import (
	"encoding/json"

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
			w, err := loadManifests(deps, g, false)
			if err != nil {
				return err
			}
			if err := w.observe(cmd.Context(), deps); err != nil {
				return err
			}
			defer w.Close()
			st := buildStatus(cmd.Context(), w)
			if g.Output == "json" {
				enc := json.NewEncoder(deps.IO.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(st.Hosts)
			}
			printHosts(deps, st.Hosts)
			return nil
		},
	}
}
