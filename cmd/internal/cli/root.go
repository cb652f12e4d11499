// Package cli wires deck's commands: each command parses its flags into an Options struct
// and calls a run function that does the work through the packages below. Output goes
// through iostreams; configuration comes from flags, DECK_* variables and a config file.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/cmd/internal/iostreams"
	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers"
)

// Deps are what commands need from outside: tests give fakes.
type Deps struct {
	IO     *iostreams.IOStreams
	Dialer providers.Dialer
	// OpenBalancer reaches load balancers (nil: the real providers, see openBalancer).
	OpenBalancer pipeline.OpenBalancer
	LookupEnv    func(string) (string, bool)
	Version      string
	// Commit is the git commit deck was built from ("": read from the binary's build info).
	Commit string
	// SSHMux is the command that runs `deck ssh-mux` (the deck binary and its arguments),
	// set by main: ssh connections are shared between commands only when it is set, so
	// tests that run the CLI in their own process never start one.
	SSHMux []string
}

// Main runs deck with args and returns the process's exit status.
func Main(ctx context.Context, args []string, deps Deps) int {
	if deps.LookupEnv == nil {
		deps.LookupEnv = os.LookupEnv
	}
	root, g := newRootCmd(deps)
	root.SetArgs(args)
	root.SetOut(deps.IO.Out)
	root.SetErr(deps.IO.ErrOut)
	root.SilenceErrors = true
	root.SilenceUsage = true
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		var fe *FlagError
		var ee *ExitError
		switch {
		case errors.As(err, &ee) && ee.Err == nil:
			// already reported
		case g.Output == "json" || g.Output == "" && jsonRequested(args):
			// g.Output is "" when the settings were not read: cobra stopped before.
			if errors.As(err, &fe) || isCobraFlagError(err) {
				fmt.Fprint(deps.IO.ErrOut, cmd.UsageString())
			}
			_ = writeErrorJSON(deps.IO.Out, newErrorJSON(err, exitCode(err)))
		case errors.As(err, &fe) || isCobraFlagError(err):
			fmt.Fprintf(deps.IO.ErrOut, "Error: %s\n\n%s", err, cmd.UsageString())
		default:
			fmt.Fprintf(deps.IO.ErrOut, "Error: %s\n", err)
		}
	}
	return exitCode(err)
}

func isCobraFlagError(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unknown flag") || strings.HasPrefix(s, "unknown shorthand") ||
		strings.HasPrefix(s, "invalid argument") || strings.HasPrefix(s, "flag needs") ||
		strings.HasPrefix(s, "unknown command") || strings.Contains(s, "arg(s)")
}

// newRootCmd builds the command tree and returns the settings its commands share (filled
// once the command line is parsed).
func newRootCmd(deps Deps) (*cobra.Command, *Globals) {
	g := &Globals{}
	root := &cobra.Command{
		Use:   "deck <command>",
		Short: "Deploy and run services on your own Podman hosts",
		Long: `deck places containers on a fleet of Podman hosts from manifests kept next to your code:
it reads the manifests, observes what runs, shows a plan, and applies it without dropping a
request. Like Amazon ECS and the Copilot CLI, on machines you own.`,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.load(cmd, deps)
		},
	}
	g.addFlags(root)
	root.AddGroup(&cobra.Group{ID: "deploy", Title: "Deploying:"}, &cobra.Group{ID: "inspect", Title: "Inspecting:"})
	for _, c := range []*cobra.Command{
		NewCmdInit(deps, g, nil), NewCmdValidate(deps, g, nil), NewCmdPlan(deps, g, nil),
		NewCmdDeploy(deps, g, nil), NewCmdRollback(deps, g, nil), NewCmdDelete(deps, g, nil),
		NewCmdController(deps, g, nil),
	} {
		c.GroupID = "deploy"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{
		NewCmdStatus(deps, g, nil), NewCmdTop(deps, g, nil), NewCmdHistory(deps, g, nil), NewCmdHosts(deps, g, nil), NewCmdLock(deps, g),
		NewCmdLogs(deps, g, nil), NewCmdEvents(deps, g, nil), NewCmdConsole(deps, g, nil),
	} {
		c.GroupID = "inspect"
		root.AddCommand(c)
	}
	root.AddGroup(&cobra.Group{ID: "run", Title: "Running tasks and jobs:"})
	for _, c := range []*cobra.Command{NewCmdTask(deps, g), NewCmdJob(deps, g), NewCmdExec(deps, g, nil)} {
		c.GroupID = "run"
		root.AddCommand(c)
	}
	root.AddCommand(NewCmdVersion(deps, g), NewCmdSSHMux())
	addCompletions(root, deps)
	return root, g
}
