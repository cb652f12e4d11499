package executor

import (
	"cmp"
	"slices"
	"strings"
)

// Redacted replaces a secret's value in what deck shows.
const Redacted = "***"

// minRedacted is the shortest value redacted: a secret of one to three characters would
// blank out ordinary words and digits in every line, and says little on its own.
const minRedacted = 4

// Redactor hides secret values in the log lines deck shows of a failed task: an app that
// cannot reach its database often logs the URL it was given, password and all, and deck
// prints a failed task's last lines in the terminal, the CI log and the job summary. Each
// value is hidden whole and, for a value of several lines (a PEM key), line by line, since
// a log line holds at most one of them. A nil *Redactor hides nothing.
type Redactor struct {
	r *strings.Replacer
}

// NewRedactor hides the given values (Podman secret name -> value, as Resolve gives them).
func NewRedactor(secrets map[string][]byte) *Redactor {
	seen := map[string]bool{}
	var vals []string
	add := func(v string) {
		if len(v) >= minRedacted && !seen[v] {
			seen[v] = true
			vals = append(vals, v)
		}
	}
	for _, b := range secrets {
		v := string(b)
		add(v)
		add(strings.TrimSpace(v))
		for _, l := range strings.Split(v, "\n") {
			add(strings.TrimSpace(l))
		}
	}
	if len(vals) == 0 {
		return nil
	}
	// At one position the Replacer takes the first of the values that match there: the
	// longest first, so a value that contains another is hidden whole.
	slices.SortFunc(vals, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	pairs := make([]string, 0, 2*len(vals))
	for _, v := range vals {
		pairs = append(pairs, v, Redacted)
	}
	return &Redactor{r: strings.NewReplacer(pairs...)}
}

// Line returns l with every secret value in it replaced by ***.
func (r *Redactor) Line(l string) string {
	if r == nil {
		return l
	}
	return r.r.Replace(l)
}

// Lines redacts each line in place and returns them.
func (r *Redactor) Lines(ls []string) []string {
	if r == nil {
		return ls
	}
	for i, l := range ls {
		ls[i] = r.r.Replace(l)
	}
	return ls
}
