package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// ValidateOptions are deck validate's inputs.
type ValidateOptions struct {
	Deps    Deps
	Globals *Globals
}

// NewCmdValidate builds `deck validate`.
func NewCmdValidate(deps Deps, g *Globals, runF func(*ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{Deps: deps, Globals: g}
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the manifests and report every error with its file, line and column",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runValidate(opts)
		},
	}
}

func runValidate(o *ValidateOptions) error {
	w, err := loadManifests(o.Deps, o.Globals, true)
	if err != nil {
		return err
	}
	if o.Globals.Output == "json" {
		return writeJSON(o.Deps, map[string]any{"app": w.app.Name, "environment": w.env.Name, "services": w.services})
	}
	c := colors(o.Deps)
	for _, s := range w.services {
		fmt.Fprintf(o.Deps.IO.Out, "%s %s (%s) in %s\n", c.Green("✓"), s.Name, s.Type, s.File)
	}
	fmt.Fprintf(o.Deps.IO.Out, "%d services valid for app %s, environment %s (%d hosts).\n",
		len(w.services), w.app.Name, w.env.Name, len(w.env.Hosts))
	return nil
}
