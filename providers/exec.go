package providers

import (
	"context"
	"io"
)

// ExecRequest is a command to run in a task's running container, as `podman exec` does.
type ExecRequest struct {
	Command []string
	// TTY gives the command a terminal: its output (stdout and stderr as one stream)
	// goes to Stdout, with the terminal's own line endings.
	TTY bool
	// Stdin is forwarded to the command's stdin; its end closes that stdin. Nil: the
	// command gets no stdin.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer // without TTY; nil discards
	// Size is the terminal's size at the start (TTY only; zero: the server's default).
	Size TermSize
	// Resize delivers the terminal's new sizes while the command runs (TTY only; may be nil).
	Resize <-chan TermSize
}

// TermSize is a terminal's size in characters.
type TermSize struct {
	Width, Height int
}

// Execer runs commands in running containers.
type Execer interface {
	// Exec runs req.Command in the container, streams its input and output, and returns
	// its exit code once it has ended (and its output has been written). A container that
	// is not running is an error, and so is a command that cannot be started (Podman's
	// own exit codes then: 126 not executable, 127 not found, are returned as codes).
	Exec(ctx context.Context, containerID string, req ExecRequest) (int, error)
}
