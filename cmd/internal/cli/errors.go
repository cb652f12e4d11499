package cli

import (
	"errors"
	"fmt"
)

// ExitError ends the command with Code. A nil Err means the command already said why.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// FlagError is a misuse of flags or arguments: it is printed with the command's usage.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

func flagErrorf(format string, a ...any) error { return &FlagError{Err: fmt.Errorf(format, a...)} }

// exitCode maps an error to the process's exit status: 0 success, 1 error, and whatever an
// ExitError says (deck plan uses 2 for "changes to make").
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 1
}
