package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/manifest"
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
		Short: "Check the manifests for every environment (or --env) and report every error with its file, line and column",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runValidate(opts)
		},
	}
}

// runValidate checks every environment deck.yaml declares, or only --env. Problems that
// depend on this machine (unset variables, missing files) are reported for each
// environment: plan and deploy would meet them there.
func runValidate(o *ValidateOptions) error {
	r := manifest.Validate(o.Globals.File, o.Globals.Env, o.Deps.LookupEnv)
	if err := r.Err(); err != nil {
		if o.Globals.Output == "json" || len(r.Envs) < 2 {
			return manifestError(o.Deps, o.Globals, err)
		}
		printManifestErrors(o.Deps, r.Errors, func() { printEnvErrors(o.Deps, r) })
		return &ExitError{Code: 1}
	}
	if o.Globals.Output == "json" {
		return writeJSON(o.Deps, validateJSON(r, o.Globals.Env != ""))
	}
	c := colors(o.Deps)
	for _, s := range r.Envs[0].Services {
		fmt.Fprintf(o.Deps.IO.Out, "%s %s (%s) in %s\n", c.Green("✓"), s.Name, s.Type, s.File)
	}
	envs := make([]string, len(r.Envs))
	for i, e := range r.Envs {
		envs[i] = fmt.Sprintf("%s (%s)", e.Name, plural(len(e.Environment.Hosts), "host"))
	}
	where := "environment " + envs[0]
	if len(envs) > 1 {
		where = fmt.Sprintf("%d environments: %s", len(envs), strings.Join(envs, ", "))
	}
	fmt.Fprintf(o.Deps.IO.Out, "%s valid for app %s, %s.\n", plural(len(r.Envs[0].Services), "service"), r.App.Name, where)
	return nil
}

// printEnvErrors says how each environment checked fared.
func printEnvErrors(deps Deps, r *manifest.Report) {
	for _, e := range r.Envs {
		state := "valid"
		if e.Errors > 0 {
			state = plural(e.Errors, "error")
		}
		fmt.Fprintf(deps.IO.ErrOut, "environment %s: %s\n", e.Name, state)
	}
}

// validateJSON is the -o json output: as before for one chosen environment, and a list of
// environments when every one was checked.
func validateJSON(r *manifest.Report, chosen bool) map[string]any {
	if chosen {
		return map[string]any{"app": r.App.Name, "environment": r.Envs[0].Name, "services": r.Envs[0].Services}
	}
	envs := make([]map[string]any, len(r.Envs))
	for i, e := range r.Envs {
		envs[i] = map[string]any{"name": e.Name, "hosts": len(e.Environment.Hosts), "services": e.Services}
	}
	return map[string]any{"app": r.App.Name, "environments": envs}
}

// plural is "1 host" or "3 hosts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
