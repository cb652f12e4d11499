package cli

import (
	"errors"
	"fmt"

	"github.com/deckhq/deck/manifest"
)

// manifestError reports manifest errors and ends the command with status 1: as text on
// stderr, one a line, or, with --output json, as the error document on stdout
// ({"error": {"kind": "manifest", "errors": [...], ...}}), so a CI step reads them the way it
// reads the rest of deck's JSON. Other errors are returned as they are.
func manifestError(deps Deps, g *Globals, err error) error {
	var list manifest.ErrorList
	if !errors.As(err, &list) {
		return err
	}
	if g.Output == "json" {
		ghAnnotate(deps, deps.IO.ErrOut, list) // stdout holds the JSON
		if err := writeErrorJSON(deps.IO.Out, newErrorJSON(list, 1)); err != nil {
			return err
		}
		return &ExitError{Code: 1}
	}
	printManifestErrors(deps, list, nil)
	return &ExitError{Code: 1}
}

// printManifestErrors prints at most manifest.MaxShown errors, then how many more there are
// (a mistake repeated in thousands of environments must not print megabytes), then what
// more, if more is not nil, then the count.
func printManifestErrors(deps Deps, list manifest.ErrorList, more func()) {
	ghAnnotate(deps, deps.IO.Out, list)
	for i, e := range list {
		if i == manifest.MaxShown {
			fmt.Fprintln(deps.IO.ErrOut, manifest.MoreErrors(len(list)-i))
			break
		}
		fmt.Fprintln(deps.IO.ErrOut, e.Error())
	}
	if more != nil {
		more()
	}
	fmt.Fprintf(deps.IO.ErrOut, "%s; nothing was changed.\n", countErrors(len(list)))
}

func countErrors(n int) string {
	if n == 1 {
		return "1 manifest error"
	}
	return fmt.Sprintf("%d manifest errors", n)
}

// errorJSON is one manifest error in -o json output.
type errorJSON struct {
	File        string `json:"file"`
	Line        int    `json:"line"`
	Column      int    `json:"column"`
	Path        string `json:"path"`
	Message     string `json:"message"`
	Environment string `json:"environment,omitempty"`
}

// manifestErrorsJSON are the first manifest.MaxShown errors, for the error document.
func manifestErrorsJSON(list manifest.ErrorList) []errorJSON {
	out := make([]errorJSON, 0, min(len(list), manifest.MaxShown))
	for _, e := range list[:min(len(list), manifest.MaxShown)] {
		out = append(out, errorJSON{File: e.File, Line: e.Line, Column: e.Column, Path: e.Path, Message: e.Msg, Environment: e.Env})
	}
	return out
}
