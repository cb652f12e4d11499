package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest manifest deck reads. Manifests are a few KiB; the cap keeps a
// mistake such as -f /dev/zero, or a huge generated file, from eating the machine's memory.
const MaxFileSize = 1 << 20

// yamlLine picks the line out of yaml.v3's syntax errors ("yaml: line 3: ...").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseFile reads one YAML document. display is the path shown in errors. An empty file
// gives a nil node and no error: each caller knows what an empty file should have held.
func parseFile(display, path string) (*yaml.Node, *Error) {
	data, reason := readFile(path)
	if reason != "" {
		return nil, &Error{File: display, Msg: "file " + reason}
	}
	return parseYAML(display, data)
}

// readFile reads a regular file (symbolic links followed) of at most MaxFileSize bytes, or
// says why not, as a phrase that follows "file". A FIFO or a device is refused before it
// is opened, since reading one blocks forever (a FIFO with no writer) or never ends
// (/dev/zero); the file is opened non-blocking and checked again, in case it was swapped.
func readFile(path string) ([]byte, string) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, statReason(err)
	}
	if reason := notRegular(fi); reason != "" {
		return nil, reason
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, statReason(err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, statReason(err)
	}
	if reason := notRegular(fi); reason != "" {
		return nil, reason
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, statReason(err)
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge
	}
	return data, ""
}

var tooLarge = fmt.Sprintf("is larger than %d MiB; a manifest is a small YAML file", MaxFileSize>>20)

// notRegular says why fi is not something deck reads a manifest from, or "".
func notRegular(fi fs.FileInfo) string {
	m := fi.Mode()
	var kind string
	switch {
	case m.IsRegular():
		if fi.Size() > MaxFileSize {
			return tooLarge
		}
		return ""
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeDevice != 0:
		kind = "a device"
	default:
		kind = "special"
	}
	return "is " + kind + ", not a regular file; want a YAML file saved on disk"
}

// statReason words an error from opening or reading a file without repeating its path,
// which the error's File already gives.
func statReason(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "is not readable (permission denied)"
	case errors.Is(err, syscall.ELOOP):
		return "is a loop of symbolic links"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "cannot be read: " + pe.Err.Error()
	}
	return "cannot be read: " + err.Error()
}

// parseYAML parses exactly one document. A second one, even one that does not parse, is an
// error: yaml.v3 would stop after the first, and whatever followed would be dropped unseen.
func parseYAML(display string, data []byte) (*yaml.Node, *Error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(display, data, err)
	}
	var second yaml.Node
	if err := dec.Decode(&second); !errors.Is(err, io.EOF) {
		return nil, secondDocument(display, data, &doc)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// docMarker is a line that ends a document (...) or starts the next (---).
var docMarker = regexp.MustCompile(`^(---|\.\.\.)([ \t].*)?\r?$`)

// secondDocument reports what follows the first document, at the marker that ends it.
func secondDocument(display string, data []byte, first *yaml.Node) *Error {
	after := first.Line // a --- that opens the first document is at or before its first node
	if len(first.Content) > 0 {
		after = first.Content[0].Line
	}
	for i, line := range strings.Split(string(data), "\n") {
		if i+1 <= after || !docMarker.MatchString(line) {
			continue
		}
		msg := "a second YAML document (after ---) is not allowed; want one document per file"
		if strings.HasPrefix(line, "...") {
			msg = "text after ... (the end of the YAML document) is not allowed; want one document per file"
		}
		return &Error{File: display, Line: i + 1, Column: 1, Msg: msg}
	}
	return &Error{File: display, Msg: "the file holds more than one YAML document; want one document per file"}
}

// parserErrors are the messages of yaml.v3's parser (as opposed to its scanner). For them
// yaml.v3 gives the line counted from 0 (its scanner's errors count from 1): "line 6" is
// the seventh line, where the unclosed [ or { is, or the mapping or sequence began.
var parserErrors = []string{
	"did not find expected <document start>", "did not find expected node content",
	"did not find expected key", "did not find expected '-' indicator",
	"did not find expected ',' or ']'", "did not find expected ',' or '}'",
	"found undefined tag handle", "found duplicate %YAML directive", "found incompatible YAML document",
	"found duplicate %TAG directive",
}

// syntaxError places a yaml.v3 syntax error. yaml.v3 reports only a line, so the column is
// that of the line's first character (where an editor should put the cursor), or of the
// [ or { that is not closed.
func syntaxError(display string, data []byte, err error) *Error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if a := unknownAnchor.FindStringSubmatch(msg); a != nil {
			// yaml.v3 gives no line for it: the alias is found in the text.
			return unknownAnchorError(display, data, a[1])
		}
		return &Error{File: display, Msg: "invalid YAML: " + msg}
	}
	line, _ := strconv.Atoi(m[1])
	lines := strings.Split(string(data), "\n")
	if strings.Contains(m[2], "tab character") {
		return tabError(display, lines, line, m[2])
	}
	for _, pe := range parserErrors {
		if strings.HasPrefix(m[2], pe) {
			line++
			break
		}
	}
	switch {
	case strings.HasPrefix(m[2], "did not find expected ',' or ']'"):
		return unclosedError(display, lines, line, '[', ']', m[2])
	case strings.HasPrefix(m[2], "did not find expected ',' or '}'"):
		return unclosedError(display, lines, line, '{', '}', m[2])
	}
	col, msg := 1, "invalid YAML: "+m[2]
	if line >= 1 && line <= len(lines) {
		text := lines[line-1]
		indent := text[:len(text)-len(strings.TrimLeft(text, " \t"))]
		col = len(indent) + 1
		if tab := strings.IndexByte(indent, '\t'); tab >= 0 {
			// "found character that cannot start any token": the character is the tab.
			col, msg = tab+1, msg+"; indent with spaces, not tabs"
		}
	}
	return &Error{File: display, Line: line, Column: col, Msg: msg}
}

// unknownAnchor is yaml.v3's error for an alias (*name) with no anchor (&name) before it.
var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// unknownAnchorError places an alias whose anchor is missing: the first *name in the text
// that is not inside quotes or a comment.
func unknownAnchorError(display string, data []byte, name string) *Error {
	msg := fmt.Sprintf("invalid YAML: alias *%s has no anchor &%s before it; define &%s on a value earlier in the file, or fix the name", name, name, name)
	alias := regexp.MustCompile(`(^|[\s\[{,:-])\*` + regexp.QuoteMeta(name) + `($|[\s\]},])`)
	for i, text := range strings.Split(string(data), "\n") {
		if loc := alias.FindStringIndex(stripComment(text)); loc != nil {
			col := loc[0] + 1
			if text[loc[0]] != '*' {
				col++
			}
			return &Error{File: display, Line: i + 1, Column: col, Msg: msg}
		}
	}
	return &Error{File: display, Msg: msg}
}

// stripComment cuts a # comment off a line of YAML, leaving quoted text alone.
func stripComment(text string) string {
	end := len(text)
	plainBytes(text, func(i int) bool {
		if text[i] == '#' && (i == 0 || text[i-1] == ' ' || text[i-1] == '\t') {
			end = i
			return false
		}
		return true
	})
	return text[:end]
}

// plainBytes calls fn with the index of each byte of a line of YAML that is outside
// quotes, until fn returns false.
func plainBytes(text string, fn func(i int) bool) {
	var quote byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case !fn(i):
			return
		}
	}
}

// unclosedError places a flow collection ([...] or {...}) that is not closed. yaml.v3
// names the line where it opened, or (for one that opens on the first line) where it
// noticed: the opener is looked for on that line, then on the first.
func unclosedError(display string, lines []string, line int, open, close byte, msg string) *Error {
	msg = fmt.Sprintf("invalid YAML: %s: the %c here is not closed, or an item in it lacks its comma", msg, open)
	for _, l := range []int{line, 1} {
		if l < 1 || l > len(lines) {
			continue
		}
		if col := unclosedAt(lines[l-1], open, close); col > 0 {
			return &Error{File: display, Line: l, Column: col, Msg: msg}
		}
	}
	return &Error{File: display, Line: line, Column: 1, Msg: msg}
}

// unclosedAt is the column of the last opener on text that is not closed on it (ignoring
// quoted text and comments), or 0.
func unclosedAt(text string, open, close byte) int {
	var stack []int
	text = stripComment(text)
	plainBytes(text, func(i int) bool {
		switch {
		case text[i] == open:
			stack = append(stack, i+1)
		case text[i] == close && len(stack) > 0:
			stack = stack[:len(stack)-1]
		}
		return true
	})
	if len(stack) == 0 {
		return 0
	}
	return stack[len(stack)-1]
}

// tabError places a tab that breaks the indentation. yaml.v3 reports the line where the
// value it was scanning started, which is before the tab's line: the tab is on the first
// line after it that is indented with one.
func tabError(display string, lines []string, line int, msg string) *Error {
	msg = "invalid YAML: " + msg + "; indent with spaces, not tabs"
	for i := line + 1; i <= len(lines); i++ {
		text := lines[i-1]
		indent := text[:len(text)-len(strings.TrimLeft(text, " \t"))]
		if tab := strings.IndexByte(indent, '\t'); tab >= 0 {
			return &Error{File: display, Line: i, Column: tab + 1, Msg: msg}
		}
	}
	return &Error{File: display, Line: line, Column: 1, Msg: msg}
}
