package cli

import (
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/deckhq/deck/manifest"
)

// Dynamic shell completion. cobra's completion command (deck completion bash|zsh|fish|
// powershell) writes the script; the script asks deck itself (deck __complete ...) for the
// words that fit where the cursor is, and these functions answer from the app file: the
// names in its service manifests for a SERVICE argument, its environments for --env.
// Revision numbers are not completed: they are kept on the hosts, and a completion that
// dials every host on each Tab would be slow, or hang on one that does not answer.

// serviceArgs are the commands whose first argument is a service; jobArgs those whose
// first argument is a Scheduled Job.
var (
	serviceArgs = []string{"delete", "exec", "history", "logs", "rollback", "task run"}
	jobArgs     = []string{"job run", "job history"}
)

// addCompletions sets the completion functions on root's commands and flags.
func addCompletions(root *cobra.Command, deps Deps) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := c.CommandPath()[len(root.Name()):]
		if len(path) > 0 {
			path = path[1:]
		}
		switch {
		case slices.Contains(serviceArgs, path):
			c.ValidArgsFunction = completeServices(deps, false)
		case slices.Contains(jobArgs, path):
			c.ValidArgsFunction = completeServices(deps, true)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	_ = root.RegisterFlagCompletionFunc("env", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		app, err := manifest.LoadApp(appFileFor(cmd, deps), func(string) (string, bool) { return "", true })
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return app.EnvironmentNames(), cobra.ShellCompDirectiveNoFileComp
	})
}

// appFileFor is the app file a command line names: --file, else DECK_FILE, else deck.yaml.
// (The config file is not read: completion must be quick and quiet.)
func appFileFor(cmd *cobra.Command, deps Deps) string {
	if f := cmd.Flag("file"); f != nil && f.Changed {
		return f.Value.String()
	}
	if v, ok := deps.LookupEnv("DECK_FILE"); ok && v != "" {
		return v
	}
	return "deck.yaml"
}

// completeServices completes the first argument with the names of the app's services (its
// Scheduled Jobs only, with jobs). A manifest that does not parse is skipped: completion
// offers what it can, and deck validate says what is wrong.
func completeServices(deps Deps, jobs bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		file := appFileFor(cmd, deps)
		app, err := manifest.LoadApp(file, func(string) (string, bool) { return "", true })
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, rel := range app.ServiceFiles {
			b, err := os.ReadFile(filepath.Join(app.Dir, rel))
			if err != nil {
				continue
			}
			var doc struct {
				Name string `yaml:"name"`
				Type string `yaml:"type"`
			}
			if yaml.Unmarshal(b, &doc) != nil || doc.Name == "" {
				continue
			}
			if jobs && doc.Type != string(manifest.ScheduledJob) {
				continue
			}
			if !slices.Contains(names, doc.Name) {
				names = append(names, doc.Name)
			}
		}
		slices.Sort(names)
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
