package cli

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"

	"github.com/deckhq/deck/executor"
	"github.com/deckhq/deck/manifest"
)

// With --output json every command prints JSON on stdout, errors included: a failure is one
// object {"error": {...}}, on one line, in place of the "Error: ..." text on stderr, so
// `deck x -o json | jq` always reads JSON. The exit status is the same as without it.

// ErrorJSON is the "error" member of the document a failing command prints with -o json.
type ErrorJSON struct {
	Message string `json:"message"`
	// Code is the process's exit status.
	Code int `json:"code"`
	// Kind is "usage" (a flag or argument misused), "manifest" (Errors says which) or
	// "error" (everything else).
	Kind string `json:"kind"`
	// Errors are the manifest errors, the first manifest.MaxShown of Count.
	Errors []errorJSON `json:"errors,omitempty"`
	Count  int         `json:"count,omitempty"`
	// Failures are the tasks that failed during a deploy, rollback, delete or task run,
	// with why they stopped and their last log lines.
	Failures []FailureJSON `json:"failures,omitempty"`
}

// FailureJSON is one failed task.
type FailureJSON struct {
	Service    string   `json:"service,omitempty"`
	Host       string   `json:"host"`
	TaskID     string   `json:"task_id"`
	StopReason string   `json:"stop_reason"`
	ExitCode   int      `json:"exit_code"`
	OOMKilled  bool     `json:"oom_killed,omitempty"`
	Logs       []string `json:"logs,omitempty"`
}

// errorDoc is the document of a failed command: {"error": {...}}.
type errorDoc struct {
	Error *ErrorJSON `json:"error"`
}

// newErrorJSON describes err, ending the command with status code.
func newErrorJSON(err error, code int) *ErrorJSON {
	e := &ErrorJSON{Message: err.Error(), Code: code, Kind: "error", Failures: failuresJSON(err)}
	var fe *FlagError
	var list manifest.ErrorList
	switch {
	case errors.As(err, &list):
		e.Kind, e.Message = "manifest", countErrors(len(list))+"; nothing was changed."
		e.Errors, e.Count = manifestErrorsJSON(list), len(list)
	case errors.As(err, &fe) || isCobraFlagError(err):
		e.Kind = "usage"
	}
	return e
}

// failuresJSON lists the failed tasks err carries.
func failuresJSON(err error) []FailureJSON {
	var out []FailureJSON
	for _, f := range executor.Failures(err) {
		out = append(out, FailureJSON{Service: f.Service, Host: f.Host, TaskID: f.TaskID, StopReason: f.StopReason(),
			ExitCode: f.ExitCode, OOMKilled: f.OOMKilled, Logs: f.Logs})
	}
	return out
}

// writeErrorJSON prints the error document on one line.
func writeErrorJSON(w io.Writer, e *ErrorJSON) error {
	return json.NewEncoder(w).Encode(errorDoc{Error: e})
}

// jsonRequested says whether the command line asks for JSON, for errors met before the
// settings were read (an unknown flag stops cobra before deck reads them): a
// --output/-o json among args, else DECK_OUTPUT=json. A config file's output: json is not
// seen then: a misused flag is reported as text.
func jsonRequested(args []string) bool {
	v := os.Getenv("DECK_OUTPUT") // as the settings read it
	// The last flag counts, as pflag does.
	for i, a := range args {
		if a == "--" {
			break
		}
		switch {
		case (a == "--output" || a == "-o") && i+1 < len(args):
			v = args[i+1]
		case strings.HasPrefix(a, "--output="):
			v = strings.TrimPrefix(a, "--output=")
		case strings.HasPrefix(a, "-o") && !strings.HasPrefix(a, "--") && len(a) > 2:
			v = strings.TrimPrefix(a[2:], "=")
		}
	}
	return v == "json"
}
