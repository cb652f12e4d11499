package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers"
)

// ExecOptions are deck exec's inputs.
type ExecOptions struct {
	Deps    Deps
	Globals *Globals
	Service string
	Task    string
	Command []string
	NoTTY   bool
}

// NewCmdExec builds `deck exec SERVICE [--task ID] -- CMD...`.
func NewCmdExec(deps Deps, g *Globals, runF func(*ExecOptions) error) *cobra.Command {
	opts := &ExecOptions{Deps: deps, Globals: g}
	cmd := &cobra.Command{
		Use:   "exec SERVICE [--task ID] -- COMMAND [ARG...]",
		Short: "Run a command in a running task of a service",
		Long: `Run COMMAND in one running task of SERVICE: the task --task names (its id, or the start of
it, as deck status shows it), else the first healthy one. deck says on stderr which task and
host it picked, and exits with the command's exit code.

When stdin and stdout are both terminals, the command gets a terminal of its own: deck puts
yours in raw mode (Ctrl-C and Ctrl-D go to the command), passes its size, and passes every
resize on. Otherwise (or with --no-tty) the command's stdout and stderr come back as deck's
stdout and stderr, and deck's stdin is forwarded to the command's until it ends.

The command runs with the container's environment, user and working directory, through the
host's Podman API (as podman exec does). Its output is the command's own, byte for byte, so
--output json does not change it; deck's own errors are JSON with it.`,
		Example: `  deck exec web -- /bin/sh
  deck exec web --task 3f2a9c1b -- /app check-config
  echo 'select 1' | deck exec db -- psql`,
		Args: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if dash != 1 || len(args) < 2 {
				return flagErrorf("want SERVICE -- COMMAND [ARG...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Service, opts.Command = args[0], args[1:]
			if runF != nil {
				return runF(opts)
			}
			return runExec(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Task, "task", "", "the task to run the command in (its id or the start of it)")
	cmd.Flags().BoolVar(&opts.NoTTY, "no-tty", false, "plain streams even on a terminal (stdout and stderr apart)")
	return cmd
}

func runExec(ctx context.Context, opts *ExecOptions) error {
	deps, g := opts.Deps, opts.Globals
	_, s, err := readHosts(ctx, deps, g)
	if err != nil {
		return err
	}
	defer s.Close()
	task, err := pipeline.ExecTarget(s, opts.Service, opts.Task)
	if err != nil {
		return err
	}
	fmt.Fprintf(deps.IO.ErrOut, "Running in task %s of service %s on %s\n", task.TaskID, opts.Service, task.Host)

	req := providers.ExecRequest{Command: opts.Command, Stdin: deps.IO.In, Stdout: deps.IO.Out, Stderr: deps.IO.ErrOut}
	in, inOK := deps.IO.In.(*os.File)
	out, outOK := deps.IO.Out.(*os.File)
	if !opts.NoTTY && inOK && outOK && term.IsTerminal(int(in.Fd())) && term.IsTerminal(int(out.Fd())) {
		restore, err := rawTerminal(in, out, &req)
		if err != nil {
			return err
		}
		defer restore()
	}
	code, err := pipeline.Exec(ctx, s, task, req)
	if err != nil {
		return err
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

// rawTerminal gives the command a terminal: puts in into raw mode, reads out's size, and
// passes each resize (SIGWINCH) on. restore undoes it all.
func rawTerminal(in, out *os.File, req *providers.ExecRequest) (restore func(), err error) {
	size := func() providers.TermSize {
		w, h, err := term.GetSize(int(out.Fd()))
		if err != nil {
			return providers.TermSize{}
		}
		return providers.TermSize{Width: w, Height: h}
	}
	state, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return nil, fmt.Errorf("putting the terminal in raw mode: %w", err)
	}
	req.TTY, req.Size, req.Stderr = true, size(), nil
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	resize := make(chan providers.TermSize, 1)
	req.Resize = resize
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-winch:
				sz := size()
				select { // only the newest size matters
				case <-resize:
				default:
				}
				resize <- sz
			}
		}
	}()
	return func() {
		signal.Stop(winch)
		close(done)
		_ = term.Restore(int(in.Fd()), state)
	}, nil
}
