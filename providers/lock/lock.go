package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"
)

// Locker is the deploy lock of one app+environment. The hosts implementation is
// NewHostsLocker; an etcd one fits behind the same interface.
type Locker interface {
	// Acquire takes the lock or fails at once with *HeldError naming the holder. With
	// req.Wait > 0 it polls (about every second, with jitter) until it gets the lock or Wait
	// passes, calling req.OnWait(holder) once when it starts waiting. ctx also bounds the
	// lease: when ctx is done, renewal stops (as if the process had died) and the lease
	// runs out.
	Acquire(ctx context.Context, req Request) (Lease, error)
	// Status returns the live holder, or nil when the lock is free.
	Status(ctx context.Context) (*Holder, error)
	// Break releases the lock whoever holds it, recording who broke it (by); it returns the
	// holder it broke, or nil when the lock was free (then it writes nothing).
	Break(ctx context.Context, by Holder) (*Holder, error)
	// LastBreak returns the holder most recently broken, with BrokenBy set, while the hosts
	// still keep that record (until the next holder releases); nil when there is none.
	LastBreak(ctx context.Context) (*Holder, error)
}

// Lease is a held lock.
type Lease interface {
	// Epoch is the fencing token: strictly greater than every earlier holder's. Stamp it
	// on what the deploy writes; refuse writes carrying a smaller one.
	Epoch() uint64
	Holder() Holder
	// Check returns nil while the lease is certainly still held; else why not: a
	// *LostError (expired, taken, broken: naming who when known) or ErrReleased.
	Check() error
	// Lost is closed when the lease ends: renewal found it taken or broken, could not
	// renew it in time, or it was released.
	Lost() <-chan struct{}
	// Release gives the lock up. Releasing a lease that was already lost is a no-op.
	Release(ctx context.Context) error
	// Previous is who held the lock before this lease and how their hold ended, as the
	// hosts said when this lease was taken; nil when no earlier holder is known.
	Previous() *Previous
}

// Previous is the holder before a lease, and how its hold ended: released (the usual
// end), expired (its holder stopped renewing: killed, hung or cut off) or broken (deck
// lock release --force; BrokenBy names who).
type Previous struct {
	Holder   Holder
	Expired  bool
	BrokenBy *Holder
}

// Holder describes who holds (or held, or broke) the lock. Times are by the lock hosts'
// clock, as seen by the reader.
type Holder struct {
	ID      string // unique per lease
	User    string
	Machine string
	PID     int
	Command string
	Why     string
	Since   time.Time     // when it took the lock
	Epoch   uint64        // its fencing token
	TTL     time.Duration // how long the lock lives without renewal
	Expires time.Time     // when it expires unless renewed
	Seen    time.Time     // the lock host's clock when this was read (for "how long ago")
	// BrokenBy is who broke this holder's lock (its Since: when), as LastBreak reports it.
	BrokenBy *Holder
}

// String names the holder: user@machine (pid N).
func (h Holder) String() string {
	s := h.User + "@" + h.Machine
	if h.PID > 0 {
		s += fmt.Sprintf(" (pid %d)", h.PID)
	}
	return s
}

// Request asks for the lock.
type Request struct {
	// Who is the requester: User, Machine, PID, Command, Why (Me fills them). Acquire sets
	// the rest.
	Who Holder
	// Wait > 0 polls for the lock that long instead of failing at once (--lock-wait).
	Wait time.Duration
	// OnWait, if set, is called once, with the holder, when Acquire starts waiting.
	OnWait func(holder Holder)
}

// Me describes this process: the current user, the machine's host name and the pid.
func Me(command, why string) Holder {
	h := Holder{User: os.Getenv("USER"), PID: os.Getpid(), Command: command, Why: why}
	if u, err := user.Current(); err == nil {
		h.User = u.Username
	}
	h.Machine, _ = os.Hostname()
	return h
}

// ErrLost matches every *LostError (errors.Is).
var ErrLost = errors.New("deploy lock lost")

// ErrReleased is what Check returns after Release.
var ErrReleased = errors.New("deploy lock released")

// noun names a lock in messages: lock is the locker's name for it ("" for the deploy lock).
func noun(lock string) string {
	if lock == "" {
		return "deploy lock"
	}
	return lock
}

// HeldError is returned by Acquire when someone else holds the lock.
type HeldError struct {
	Lock     string // what the lock is called ("" or "deploy lock": the deploy lock)
	App, Env string
	Holder   Holder
}

// Details says who holds the lock, since when, running what, and when it expires:
// "alice@laptop (pid 42) since 2026-03-01 10:00:00 UTC (20s ago), running "deck deploy"
// (deploy), epoch 3; it expires at 2026-03-01 10:00:30 UTC (in 10s) unless renewed".
func (h Holder) Details() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s since %s", h, stamp(h.Since))
	if !h.Seen.IsZero() {
		// The hosts' clocks read to the second, truncated: Seen can be up to 1s before
		// Since, which is not "-1s ago".
		fmt.Fprintf(&b, " (%s ago)", max(h.Seen.Sub(h.Since), 0).Round(time.Second))
	}
	fmt.Fprintf(&b, ", running %q", h.Command)
	if h.Why != "" {
		fmt.Fprintf(&b, " (%s)", h.Why)
	}
	fmt.Fprintf(&b, ", epoch %d; it expires at %s", h.Epoch, stamp(h.Expires))
	if !h.Seen.IsZero() {
		fmt.Fprintf(&b, " (in %s)", max(h.Expires.Sub(h.Seen), 0).Round(time.Second))
	}
	b.WriteString(" unless renewed")
	return b.String()
}

func (e *HeldError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s for %s/%s is held by %s", noun(e.Lock), e.App, e.Env, e.Holder.Details())
	if noun(e.Lock) == "deploy lock" {
		b.WriteString("; wait with --lock-wait 5m, or deck lock release --force if the holder is gone")
	}
	return b.String()
}

// LostError says why a lease is no longer held.
type LostError struct {
	Lock string // what the lock is called ("" or "deploy lock": the deploy lock)
	// By is who took or broke the lock, when known.
	By *Holder
	// Broken is true when By broke the lock (deck lock release --force).
	Broken bool
	// Cause explains a loss without a known taker (the lease ran out).
	Cause string
}

func (e *LostError) Error() string {
	switch {
	case e.By != nil && e.Broken:
		return fmt.Sprintf("%s lost: broken by %s at %s (%q)", noun(e.Lock), e.By, stamp(e.By.Since), e.By.Command)
	case e.By != nil:
		return fmt.Sprintf("%s lost: taken by %s at %s (%q), epoch %d", noun(e.Lock), e.By, stamp(e.By.Since), e.By.Command, e.By.Epoch)
	}
	return noun(e.Lock) + " lost: " + e.Cause
}

// Unwrap makes errors.Is(err, ErrLost) true.
func (e *LostError) Unwrap() error { return ErrLost }

// QuorumError is returned when fewer than a majority of the lock's hosts answer.
type QuorumError struct {
	Lock        string // what the lock is called ("" or "deploy lock": the deploy lock)
	App, Env    string
	Need, Total int
	Unreachable []string // host names
	Errs        []error  // one per unreachable host
}

func (e *QuorumError) Error() string {
	need := fmt.Sprintf("need %d (a majority)", e.Need)
	switch e.Total {
	case 1:
		need = "need it"
	case 2:
		need = "need both (of 2 hosts a majority is both)"
	}
	msg := fmt.Sprintf("%s for %s/%s: %d of %d hosts reachable, %s; cannot reach %s",
		noun(e.Lock), e.App, e.Env, e.Total-len(e.Unreachable), e.Total, need, strings.Join(e.Unreachable, ", "))
	if len(e.Errs) > 0 {
		msg += ": " + errors.Join(e.Errs...).Error()
	}
	return strings.ReplaceAll(msg, "\n", "; ")
}

// stamp shows a host-clock time to people (UTC: the hosts and the reader may be in
// different zones).
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
