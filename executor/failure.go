package executor

import (
	"errors"
	"fmt"
	"strings"
)

// LogLines is how many of a failed task's last log lines are kept to show the user.
const LogLines = 20

// ErrLockLost is returned (wrapped) when the deploy lock was taken over or expired: the
// deploy stopped before its next write.
var ErrLockLost = errors.New("the deploy lock is no longer held")

// TaskFailure says why a task failed, with what it left behind: its stop reason and its
// last log lines, read before the task was removed.
type TaskFailure struct {
	Service, Host, TaskID string
	Cause                 error  // what deck saw: a failed start, a health check that never passed
	State                 string // the container's state when it was read ("exited", ...)
	ExitCode              int
	OOMKilled             bool
	RuntimeError          string   // the runtime's own error for a container that did not start
	Logs                  []string // oldest first
}

func (f *TaskFailure) Error() string {
	return fmt.Sprintf("task %s on %s: %s", f.TaskID, f.Host, f.StopReason())
}

func (f *TaskFailure) Unwrap() error { return f.Cause }

// StopReason says in one line why the task stopped or was stopped.
func (f *TaskFailure) StopReason() string {
	why := f.Cause.Error()
	switch {
	case f.OOMKilled:
		why += fmt.Sprintf("; the container was killed for using more memory than its limit (OOM, exit code %d)", f.ExitCode)
	case f.State == "exited" || f.State == "stopped":
		why += fmt.Sprintf("; the container exited with code %d", f.ExitCode)
	}
	if f.RuntimeError != "" && !strings.Contains(why, f.RuntimeError) {
		why += "; runtime: " + f.RuntimeError
	}
	return why
}

// Detail is the stop reason followed by the last log lines, indented, for a terminal or
// a CI log.
func (f *TaskFailure) Detail() string {
	var b strings.Builder
	b.WriteString(f.Error())
	if len(f.Logs) == 0 {
		b.WriteString("\n    (the task wrote no log lines)")
		return b.String()
	}
	fmt.Fprintf(&b, "\n    last %d log lines:", len(f.Logs))
	for _, l := range f.Logs {
		b.WriteString("\n    | " + l)
	}
	return b.String()
}

// Failures returns every TaskFailure in err (a joined error tree).
func Failures(err error) []*TaskFailure {
	var out []*TaskFailure
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if f, ok := e.(*TaskFailure); ok {
			out = append(out, f)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}
