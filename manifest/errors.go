package manifest

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is one problem in a manifest, placed at a file, line, column and YAML path so an
// editor can jump to it and a reader knows which key is meant.
type Error struct {
	File   string
	Line   int
	Column int
	Path   string // e.g. healthcheck.interval, environments.prod.count, hosts[1].url
	Msg    string
	// Env names the environment the problem was found in, when deck validate checked
	// several and not all of them have it (an unset ${VAR} only prod's values use).
	Env string
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
	if e.Env != "" && !e.namesEnv() {
		fmt.Fprintf(&b, " (environment %s)", e.Env)
	}
	return b.String()
}

// ErrorList is every problem found, so a user fixes them all in one round instead of one
// per run.
type ErrorList []*Error

// MaxShown is how many errors are rendered; past it, a count says how many more there are.
// A mistake repeated in each of thousands of environments must not print megabytes.
const MaxShown = 50

// Error renders one problem per line, ordered by file and position, at most MaxShown.
func (l ErrorList) Error() string {
	sorted := append(ErrorList(nil), l...) // Error must not reorder the caller's list
	sorted.sort()
	var lines []string
	for i, e := range sorted {
		if i == MaxShown {
			lines = append(lines, MoreErrors(len(sorted)-MaxShown))
			break
		}
		lines = append(lines, e.Error())
	}
	return strings.Join(lines, "\n")
}

// MoreErrors is the line that stands for the n errors not shown.
func MoreErrors(n int) string {
	if n == 1 {
		return "and 1 more error"
	}
	return fmt.Sprintf("and %d more errors", n)
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
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Env < b.Env
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

// Suggest returns the name in valid that got is most likely a misspelling of, or "". deck's
// CLI uses it for its own config file.
func Suggest(got string, valid []string) string {
	// About one typo per three letters; further than that the hint is noise. A name longer
	// than any key is no misspelling, and skipping it keeps a huge key from costing much.
	if other, ok := otherToolsNames[strings.ToLower(got)]; ok && slices.Contains(valid, other) {
		return other
	}
	a := []rune(strings.ToLower(got))
	if len(a) > maxSuggestLen {
		return ""
	}
	limit := max(2, len(a)/3)
	best, bestDist := "", limit+1
	var rows [2][]int
	for _, v := range valid {
		// The distance is at least the difference in length: most names are skipped here,
		// so thousands of valid names cost little.
		if abs(utf8.RuneCountInString(v)-len(a)) >= bestDist {
			continue
		}
		if d := editDistance(a, []rune(strings.ToLower(v)), bestDist, &rows); d < bestDist {
			best, bestDist = v, d
		}
	}
	return best
}

const maxSuggestLen = 64

// otherToolsNames are keys of Copilot, Compose or Docker that deck names differently,
// suggested whatever their spelling distance.
var otherToolsNames = map[string]string{
	"dockerfile": "containerfile", // Copilot's image.build.dockerfile, Compose's build.dockerfile
}

// suggest returns ` did you mean "x"?` when one of valid is a likely misspelling of got.
func suggest(got string, valid []string) string {
	if best := Suggest(got, valid); best != "" {
		return fmt.Sprintf(" did you mean %q?", best)
	}
	return ""
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// editDistance is the Levenshtein distance between a and b, or bound when it is bound or
// more (it stops as soon as a whole row is past bound). rows is scratch space, reused
// across calls.
func editDistance(a, b []rune, bound int, rows *[2][]int) int {
	for i := range rows {
		if cap(rows[i]) < len(b)+1 {
			rows[i] = make([]int, len(b)+1)
		}
		rows[i] = rows[i][:len(b)+1]
	}
	prev, cur := rows[0], rows[1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= bound {
			return bound
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], bound)
}

// maxEcho is how much of a value a message repeats; a 10 MB value echoed whole would bury
// the message (and a terminal).
const maxEcho = 60

// clip shortens s to maxEcho characters, marking the cut with "…".
func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxEcho {
		return s
	}
	return string([]rune(s)[:maxEcho]) + "…"
}

// quote is %q of a value from a manifest, clipped.
func quote(s string) string {
	return strconv.Quote(clip(s))
}

// nameList renders valid names for a message, at most maxNames of them: an app with
// thousands of environments would otherwise repeat them all in every error.
func nameList(names []string) string {
	const maxNames = 20
	if len(names) <= maxNames {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNames], ", "), len(names)-maxNames)
}

// quoteList renders names for a message: "a", "b", "c".
func quoteList[T ~string](names []T) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(string(n))
	}
	return strings.Join(q, ", ")
}
