package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/manifest"
	"github.com/deckhq/deck/providers/history"
)

// Dynamic shell completion. cobra's completion command (deck completion bash|zsh|fish|
// powershell) writes the script; the script asks deck itself (deck __complete ...) for the
// words that fit where the cursor is, and these functions answer from the app file: the
// names in its service manifests for a SERVICE argument, its environments for --env.
// Revision numbers (deck rollback SERVICE --to) are kept on the hosts, so that completion
// reads them there, within completionTimeout: a host that does not answer costs a Tab that
// long, never a hang (and the ssh connections deck shares between commands make it quick).

// serviceArgs are the commands whose first argument is a service; jobArgs those whose
// first argument is a Scheduled Job.
var (
	serviceArgs = []string{"delete", "exec", "history", "logs", "rollback", "task run"}
	jobArgs     = []string{"job run", "job stop", "job history"}
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
		if path == "rollback" {
			_ = c.RegisterFlagCompletionFunc("to", completeRevisions(deps))
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

// completionTimeout bounds reading the hosts for a completion.
const completionTimeout = 3 * time.Second

// completeRevisions completes deck rollback SERVICE --to with the service's completed
// revisions, newest first, each with what it was (shells that show descriptions show it):
// "4	completed 2026-11-21 14:02 by alice: fix the login page". Nothing when the app file,
// the environment or the hosts cannot be read: completion never prints an error.
func completeRevisions(deps Deps) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		const none = cobra.ShellCompDirectiveNoFileComp
		if len(args) != 1 {
			return nil, none
		}
		g := &Globals{}
		if g.load(cmd, deps) != nil {
			return nil, none
		}
		g.HostTimeout = min(g.HostTimeout, completionTimeout)
		quiet := deps // completion prints the words and nothing else: no manifest errors
		quiet.IO = &iostreams.IOStreams{In: deps.IO.In, Out: io.Discard, ErrOut: io.Discard}
		ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
		defer cancel()
		s, err := connect(ctx, quiet, g)
		if err != nil {
			return nil, none
		}
		defer s.Close()
		store, err := historyStore(s)
		if err != nil {
			return nil, none
		}
		r, err := collectHistory(ctx, store, args[0])
		if err != nil {
			return nil, none
		}
		var words []string
		for _, rev := range r.Revisions { // newest first
			if rev.Outcome != string(history.Completed) {
				continue
			}
			desc := fmt.Sprintf("%s %s by %s", rev.Outcome, rev.Started.Local().Format("2006-01-02 15:04"), rev.Who)
			if rev.Message != "" {
				msg, _, _ := strings.Cut(rev.Message, "\n")
				desc += ": " + msg
			}
			words = append(words, fmt.Sprintf("%d\t%s", rev.Revision, desc))
		}
		return words, none | cobra.ShellCompDirectiveKeepOrder
	}
}
