package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deckhq/deck/pipeline"
	"github.com/deckhq/deck/providers/lock"
)

// LockFlags are the deploy lock's flags of the commands that write.
type LockFlags struct {
	Wait time.Duration
	TTL  time.Duration
}

func (l *LockFlags) addFlags(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&l.Wait, "lock-wait", 0, "wait this long for the environment's deploy lock (e.g. 5m) instead of failing at once (held by deck controller: 30s unless given)")
	cmd.Flags().DurationVar(&l.TTL, "lock-ttl", 30*time.Second, "how long the lock outlives a deploy that stops renewing it (killed)")
}

// check refuses bad lock flags before anything is read or planned.
func (l LockFlags) check() error {
	if l.TTL < 2*time.Second {
		return flagErrorf("--lock-ttl must be at least 2s (the lock hosts' clocks read to the second), not %s", l.TTL)
	}
	if l.Wait < 0 {
		return flagErrorf("--lock-wait must be 0 (fail at once) or a positive duration such as 5m, not %s", l.Wait)
	}
	return nil
}

// taker returns the pipeline's lock step: the environment's lock, kept on its hosts.
func (l LockFlags) taker(deps Deps, why string) func(context.Context, *pipeline.Session) (pipeline.Lease, error) {
	return func(ctx context.Context, s *pipeline.Session) (pipeline.Lease, error) {
		// The holder stops trusting its lease a margin before the hosts could expire it:
		// a quarter of the TTL, at most 2s (the hosts' clocks read to the second).
		// The holder also reads the lock every second between renewals, so one broken
		// with deck lock release --force (or taken over) stops writing within about a
		// second, not at the next renewal.
		locker, err := s.HostsLocker(lock.WithTTL(l.TTL), lock.WithMargin(min(2*time.Second, l.TTL/4)),
			lock.WithHostTimeout(s.T.HostTimeout), lock.WithWatchInterval(lockWatch))
		if err != nil {
			return nil, err
		}
		req := lock.Request{Who: lock.Me(commandLine(), why), Wait: l.Wait, OnWait: func(h lock.Holder) {
			fmt.Fprintf(deps.IO.ErrOut, "Waiting up to %s for the deploy lock, held by %s\n", l.Wait, h)
		}}
		lease, err := locker.Acquire(ctx, req)
		var held *lock.HeldError
		if l.Wait == 0 && errors.As(err, &held) && strings.HasPrefix(held.Holder.Command, controllerCommand) {
			// deck controller holds the lock only for the moments its changes take (a task
			// replaced, a job run started): failing a deploy on one of them would make CI
			// flaky, so without --lock-wait it is waited for, briefly.
			req.Wait = controllerHoldWait
			req.OnWait = func(h lock.Holder) {
				fmt.Fprintf(deps.IO.ErrOut, "Waiting up to %s for the deploy lock, which deck controller holds while it changes something: %s\n", controllerHoldWait, h)
			}
			lease, err = locker.Acquire(ctx, req)
		}
		if err != nil {
			return nil, err
		}
		return lease, nil
	}
}

// controllerHoldWait is how long a command given no --lock-wait waits for the deploy lock
// when deck controller holds it.
const controllerHoldWait = 30 * time.Second

// controllerCommand is how deck controller names itself in the deploy lock.
const controllerCommand = "deck controller"

// lockWatch is how often a deploy lock's holder reads the lock between renewals.
const lockWatch = time.Second

// commandLine is how the lock names what its holder runs; deck's flags carry no secret
// values, so it can be shown to whoever finds the lock held.
func commandLine() string {
	args := append([]string{"deck"}, os.Args[1:]...)
	return strings.Join(args, " ")
}

// NewCmdLock builds `deck lock status` and `deck lock release --force`.
func NewCmdLock(deps Deps, g *Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "lock", Short: "Show or break the environment's deploy lock"}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Who holds the deploy lock, from where, since when and why",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withLocker(cmd.Context(), deps, g, func(l *lock.HostsLocker, _ *pipeline.Session) error {
				return lockStatus(cmd.Context(), deps, g, l)
			})
		},
	})
	var force bool
	release := &cobra.Command{
		Use:   "release --force",
		Short: "Break the deploy lock whoever holds it (recorded with who broke it)",
		Long: `Break the environment's deploy lock. The holder, which reads its lock every second,
stops before its next write (its lease is lost), so use it when the holder is gone (a killed CI
job) and you do not want to wait for the lock to expire. Who broke it, from where and when is
recorded and shown by deck lock status.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force {
				return flagErrorf("deck lock release breaks a lock someone may hold: add --force to confirm")
			}
			return withLocker(cmd.Context(), deps, g, func(l *lock.HostsLocker, s *pipeline.Session) error {
				me := lock.Me(commandLine(), "lock release --force")
				broke, err := l.Break(cmd.Context(), me)
				if err != nil {
					return err
				}
				if g.Output == "json" {
					// {"broken": false, "holder": null} when it was not held.
					defer func() { _ = writeJSON(deps, map[string]any{"broken": broke != nil, "holder": holderJSON(broke)}) }()
				}
				if broke == nil {
					fmt.Fprintln(deps.IO.ErrOut, "The deploy lock was not held; nothing to break.")
					return nil
				}
				fmt.Fprintf(deps.IO.ErrOut, "Broke the deploy lock held by %s.\n", broke)
				recordBreak(cmd.Context(), deps, s, l)
				ev := pipeline.LogEvent{Kind: pipeline.KindLockBroken,
					Message: fmt.Sprintf("The deploy lock held by %s was broken by %s.", broke, me)}
				if err := pipeline.AppendEvents(cmd.Context(), s, ev); err != nil {
					fmt.Fprintf(deps.IO.ErrOut, "Warning: the event log (deck events) misses the break on some hosts: %v\n", err)
				}
				return nil
			})
		},
	}
	release.Flags().BoolVar(&force, "force", false, "break the lock even though someone may hold it")
	cmd.AddCommand(release)
	return cmd
}

func withLocker(ctx context.Context, deps Deps, g *Globals, fn func(*lock.HostsLocker, *pipeline.Session) error) error {
	s, err := connect(ctx, deps, g)
	if err != nil {
		return err
	}
	defer s.Close()
	l, err := s.HostsLocker()
	if err != nil {
		return err
	}
	return fn(l, s)
}

func lockStatus(ctx context.Context, deps Deps, g *Globals, l *lock.HostsLocker) error {
	h, err := l.Status(ctx)
	if err != nil {
		return err
	}
	broke, _ := l.LastBreak(ctx)
	if g.Output == "json" {
		return writeJSON(deps, map[string]any{"held": h != nil, "holder": holderJSON(h), "last_break": holderJSON(broke)})
	}
	if h == nil {
		fmt.Fprintln(deps.IO.Out, "The deploy lock is free.")
	} else {
		fmt.Fprintf(deps.IO.Out, "The deploy lock is held by %s.\n", h.Details())
	}
	if broke != nil && broke.BrokenBy != nil {
		fmt.Fprintf(deps.IO.Out, "Last broken by %s.\n", broke.BrokenBy)
	}
	return nil
}

// HolderJSON is a lock holder in deck lock's -o json.
type HolderJSON struct {
	ID      string        `json:"id,omitempty"`
	User    string        `json:"user"`
	Machine string        `json:"machine"`
	PID     int           `json:"pid,omitempty"`
	Command string        `json:"command,omitempty"`
	Why     string        `json:"why,omitempty"`
	Since   time.Time     `json:"since,omitzero"`
	Epoch   uint64        `json:"epoch,omitempty"`
	TTL     time.Duration `json:"ttl,omitempty"` // nanoseconds
	Expires time.Time     `json:"expires,omitzero"`
	// BrokenBy is who broke this holder's lock (its since: when), for last_break.
	BrokenBy *HolderJSON `json:"broken_by,omitempty"`
}

// holderJSON is h in snake_case; nil for none.
func holderJSON(h *lock.Holder) *HolderJSON {
	if h == nil {
		return nil
	}
	return &HolderJSON{ID: h.ID, User: h.User, Machine: h.Machine, PID: h.PID, Command: h.Command, Why: h.Why,
		Since: h.Since, Epoch: h.Epoch, TTL: h.TTL, Expires: h.Expires, BrokenBy: holderJSON(h.BrokenBy)}
}
