package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/providers/podman"
)

// NewCmdSSHMux builds the hidden `deck ssh-mux`: the background process a command starts
// to keep an ssh connection open for the next ones (see providers/podman/sshmux.go). It is
// started by deck itself, with its spec in the environment, and is not for people.
func NewCmdSSHMux() *cobra.Command {
	return &cobra.Command{
		Use:    "ssh-mux",
		Short:  "Keep an ssh connection open for the next deck commands (started by deck)",
		Hidden: true,
		Args:   cobra.NoArgs,
		// No config file, no environment: the spec says everything.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, _ []string) error {
			var spec podman.MuxSpec
			if err := json.Unmarshal([]byte(os.Getenv(podman.MuxEnv)), &spec); err != nil {
				return fmt.Errorf("ssh-mux is started by deck, with %s set: %w", podman.MuxEnv, err)
			}
			return podman.ServeMux(cmd.Context(), spec)
		},
	}
}
