package manifest

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a manifest, placed at a file, line, column and YAML path so an
// editor can jump to it and a reader knows which key is meant.
type Error struct {
	File   string
	Line   int
	Column int
	Path   string // e.g. healthcheck.interval, environments.prod.count, hosts[1].url
	Msg    string
}

// Error renders FILE:LINE:COL: PATH: MSG, leaving out the parts that are unknown (a missing
// file has no line; a file-level problem has no path).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	if e.Path != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Path)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found, so a user fixes them all in one round instead of one
// per run.
type ErrorList []*Error

// Error renders one problem per line, ordered by file and position.
func (l ErrorList) Error() string {
	sorted := append(ErrorList(nil), l...) // Error must not reorder the caller's list
	sorted.sort()
	lines := make([]string, len(sorted))
	for i, e := range sorted {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// err returns the list as an error, or nil when it is empty (a nil ErrorList in an error
// interface would not compare equal to nil).
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	l.sort()
	return l
}

// asList turns an error from this package into a list, to be merged with others.
func asList(err error) ErrorList {
	var list ErrorList
	var one *Error
	switch {
	case errors.As(err, &list):
		return list
	case errors.As(err, &one):
		return ErrorList{one}
	}
	return ErrorList{{Msg: err.Error()}}
}

// suggest returns ` did you mean "x"?` when one of valid is a likely misspelling of got.
func suggest(got string, valid []string) string {
	best, bestDist := "", -1
	for _, v := range valid {
		d := editDistance(strings.ToLower(got), strings.ToLower(v))
		if bestDist < 0 || d < bestDist {
			best, bestDist = v, d
		}
	}
	// Allow about one typo per three letters; further than that the hint is noise.
	limit := max(2, len(got)/3)
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return fmt.Sprintf(" did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// quoteList renders names for a message: "a", "b", "c".
func quoteList[T ~string](names []T) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", string(n))
	}
	return strings.Join(q, ", ")
}
