package cli

import (
	"errors"
	"fmt"

	"github.com/deckhq/deck/manifest"
)

// manifestError prints every manifest error, one a line, and a count.
func manifestError(deps Deps, g *Globals, err error) error {
	var list manifest.ErrorList
	if !errors.As(err, &list) {
		return err
	}
	for _, e := range list {
		fmt.Fprintln(deps.IO.ErrOut, e.Error())
	}
	noun := "errors"
	if len(list) == 1 {
		noun = "error"
	}
	fmt.Fprintf(deps.IO.ErrOut, "%d manifest %s; nothing was changed.\n", len(list), noun)
	return &ExitError{Code: 1}
}
