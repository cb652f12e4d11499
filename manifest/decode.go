package manifest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder turns yaml nodes into values by hand, so that every problem is collected with its
// position and path instead of decoding stopping at the first one.
type decoder struct {
	file string
	errs *ErrorList // shared: the app file, hosts files and service files report into one list
	// overridden holds the nodes that came from an environments.<env> block, and prefix is put
	// before their paths, so an error in an override points at the override, not the base.
	overridden map[*yaml.Node]bool
	prefix     string
	// nodes records the value node of each decoded path, for checks made after decoding
	// (cross-field rules) that still need a position.
	nodes map[string]*yaml.Node
	// failed holds the values whose ${VAR} could not be expanded: that error stands alone,
	// and none is reported about the unexpanded text.
	failed map[*yaml.Node]bool
}

func newDecoder(file string, errs *ErrorList) *decoder {
	return &decoder{file: file, errs: errs, nodes: map[string]*yaml.Node{}}
}

// errorf reports a problem at node n.
func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	if n != nil && d.failed[n] {
		return
	}
	e := &Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
		if d.overridden[n] {
			e.Path = d.prefix + path
		}
	}
	*d.errs = append(*d.errs, e)
}

// at reports a problem about path found after decoding. It points at the path's node, or at
// its nearest decoded ancestor when the key is missing (a missing image.port points at image).
func (d *decoder) at(path, format string, args ...any) {
	d.errorf(d.node(path), path, format, args...)
}

// reported says whether a problem was reported at path in this file (or at its override).
func (d *decoder) reported(path string) bool {
	for _, e := range *d.errs {
		if e.File == d.file && (e.Path == path || e.Path == d.prefix+path) {
			return true
		}
	}
	return false
}

func (d *decoder) node(path string) *yaml.Node {
	for p := path; ; p = parentPath(p) {
		if n, ok := d.nodes[p]; ok {
			return n
		}
		if p == "" {
			return nil
		}
	}
}

// has reports whether the document set path (to a non-null value).
func (d *decoder) has(path string) bool {
	_, ok := d.nodes[path]
	return ok
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// joinPath is path.key; a key longer than a name could be is clipped, so a huge misspelt
// key does not make a huge path in its error.
func joinPath(path, key string) string {
	key = clip(key)
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe says what a node holds, for "found X; want Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	}
	if n.ShortTag() == "!!str" {
		return quote(n.Value)
	}
	return clip(n.Value)
}

// field decodes the value of one key of a map; path is the key's full path.
type field struct {
	key    string
	decode func(n *yaml.Node, path string)
}

// pairs calls fn for each key of a map, reporting a value that is not a map, keys that are
// not plain scalars and keys given twice (yaml.v3 nodes do not catch those).
func (d *decoder) pairs(n *yaml.Node, path, want string, fn func(key, val *yaml.Node, keyPath string)) bool {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "found %s; want %s", describe(n), want)
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "found %s as a key; want a name", describe(k))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.errorf(k, joinPath(path, k.Value), "key %s is given twice (first on line %d); keep one", quote(k.Value), line)
			continue
		}
		seen[k.Value] = k.Line
		fn(k, v, joinPath(path, k.Value))
	}
	return true
}

// mapping decodes a map whose keys must be among fields. An unknown key is an error with a
// spelling hint and the valid keys. A null value keeps the default, so `healthcheck:` with
// nothing after it means the same as leaving the key out.
func (d *decoder) mapping(n *yaml.Node, path string, fields []field) {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	d.pairs(n, path, "a map with keys "+strings.Join(keys, ", "), func(k, v *yaml.Node, keyPath string) {
		for _, f := range fields {
			if f.key != k.Value {
				continue
			}
			if isNull(v) {
				return
			}
			d.nodes[keyPath] = v
			f.decode(v, keyPath)
			return
		}
		d.errorf(k, keyPath, "unknown key %s;%s valid keys: %s", quote(k.Value), suggest(k.Value, keys), strings.Join(keys, ", "))
	})
}

// str decodes any scalar as its text; YAML's 3 and true are the strings "3" and "true".
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "found %s; want a string", describe(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return n.Value, true
}

// integer decodes a whole number; want says what a valid value looks like.
func (d *decoder) integer(n *yaml.Node, path, want string) (int, bool) {
	var v int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		if d.quoted(n, path, "!!int") {
			return 0, false
		}
		d.errorf(n, path, "%s is not a whole number; want %s", describe(n), want)
		return 0, false
	}
	return v, true
}

// quoted reports a quoted value that would be right without its quotes ("3" where a number
// is wanted) and returns true. A number and a string are different things in YAML, as in
// Copilot's manifests, and every number, boolean and count of a manifest is read the same
// way; the message says what the value is and gives the fix, since "3" looks like 3.
func (d *decoder) quoted(n *yaml.Node, path, tag string) bool {
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) == 0 {
		return false
	}
	if (&yaml.Node{Kind: yaml.ScalarNode, Value: n.Value}).ShortTag() != tag {
		return false
	}
	what := map[string]string{"!!int": "a number", "!!float": "a number", "!!bool": "a boolean"}[tag]
	d.errorf(n, path, "%s is a string, not %s; remove the quotes: %s: %s", quote(n.Value), what, lastKey(path), clip(n.Value))
	return true
}

// lastKey is the key a path ends with: count for environments.prod.count.
func lastKey(path string) string {
	return path[strings.LastIndex(path, ".")+1:]
}

// intRange decodes a whole number in lo..hi; unit explains the number to someone who got it wrong.
func (d *decoder) intRange(n *yaml.Node, path string, lo, hi int, unit string) (int, bool) {
	want := fmt.Sprintf("%d to %d%s", lo, hi, unit)
	if hi < 0 {
		want = fmt.Sprintf("%d or more%s", lo, unit)
	}
	v, ok := d.integer(n, path, want)
	if !ok {
		return 0, false
	}
	if v < lo || (hi >= 0 && v > hi) {
		d.errorf(n, path, "%d is out of range; want %s", v, want)
		return 0, false
	}
	return v, true
}

func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	var v bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		if d.quoted(n, path, "!!bool") {
			return false, false
		}
		d.errorf(n, path, "%s is not a boolean; want true or false", describe(n))
		return false, false
	}
	return v, true
}

// duration decodes a Go duration ("10s", "1m30s") or a bare number of seconds. Negative
// durations are errors; zero is allowed only when allowZero.
func (d *decoder) duration(n *yaml.Node, path string, allowZero bool) (time.Duration, bool) {
	const want = `a duration such as 10s, 1m30s or 500ms, or a number of seconds`
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "found %s; want %s", describe(n), want)
		return 0, false
	}
	var v time.Duration
	switch n.ShortTag() {
	case "!!int", "!!float":
		secs, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			d.errorf(n, path, "%s is not a duration; want %s", describe(n), want)
			return 0, false
		}
		if secs >= float64(math.MaxInt64)/float64(time.Second) {
			// Too many seconds for a duration (about 292 years): it would wrap around.
			d.errorf(n, path, "%s seconds is far too long; want %s", n.Value, want)
			return 0, false
		}
		v = time.Duration(secs * float64(time.Second))
	default:
		var err error
		if v, err = time.ParseDuration(n.Value); err != nil {
			if d.quoted(n, path, "!!int") || d.quoted(n, path, "!!float") {
				return 0, false // "10": a number of seconds, but quoted
			}
			d.errorf(n, path, "%s is not a duration; want %s", describe(n), want)
			return 0, false
		}
	}
	switch {
	case v < 0 && allowZero:
		d.errorf(n, path, "%s is negative; want 0s or a positive duration such as 10s", n.Value)
		return 0, false
	case v < 0:
		d.errorf(n, path, "%s is negative; want a positive duration such as 10s", n.Value)
		return 0, false
	case v == 0 && !allowZero:
		d.errorf(n, path, "%s is zero; want a positive duration such as 10s", n.Value)
		return 0, false
	}
	return v, true
}

// sizeUnits are the units of a size, as Docker's: k, m and g are powers of 1000, ki, mi and
// gi powers of 1024; a trailing b is allowed (mb, MiB).
var sizeUnits = map[string]int64{
	"k": 1e3, "m": 1e6, "g": 1e9,
	"ki": 1 << 10, "mi": 1 << 20, "gi": 1 << 30,
}

// size decodes a number of bytes written with a unit (10m, 512k, 1.5g, 64MiB), at least lo.
// A bare number is refused: 10 could mean bytes or megabytes.
func (d *decoder) size(n *yaml.Node, path string, lo int64) (int64, bool) {
	const want = "a size with a unit, such as 512k, 10m or 1g (k, m, g: 1000s; ki, mi, gi: 1024s)"
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "found %s; want %s", describe(n), want)
		return 0, false
	}
	text := strings.ToLower(strings.TrimSpace(n.Value))
	num := strings.TrimRight(text, "abcdefghijklmnopqrstuvwxyz")
	unit := strings.TrimSpace(text[len(num):])
	mult, known := int64(1), unit == "b" // bytes
	if !known {
		unit = strings.TrimSuffix(unit, "b")
		mult, known = sizeUnits[unit]
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	switch {
	case unit == "" && err == nil:
		d.errorf(n, path, "%s has no unit; want %s", n.Value, want)
		return 0, false
	case !known || err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v):
		d.errorf(n, path, "%s is not a size; want %s", describe(n), want)
		return 0, false
	case v*float64(mult) >= math.MaxInt64/2:
		d.errorf(n, path, "%s is far too large; want %s", n.Value, want)
		return 0, false
	}
	bytes := int64(v * float64(mult))
	if bytes < lo {
		d.errorf(n, path, "%s is too small; want %s or more", n.Value, humanSize(lo))
		return 0, false
	}
	return bytes, true
}

// humanSize writes bytes in the largest of k, m and g that divides them.
func humanSize(b int64) string {
	for _, u := range []string{"g", "m", "k"} {
		if m := sizeUnits[u]; b%m == 0 {
			return strconv.FormatInt(b/m, 10) + u
		}
	}
	return strconv.FormatInt(b, 10) + "b"
}

// durationIn decodes a duration in lo..hi (zero allowed when lo is 0), returning old and
// false when the value is wrong (the error is reported).
func (d *decoder) durationIn(n *yaml.Node, path string, lo, hi, old time.Duration) (time.Duration, bool) {
	v, ok := d.duration(n, path, lo == 0)
	if !ok {
		return old, false
	}
	if v < lo || v > hi {
		d.errorf(n, path, "%s is out of range; want %s to %s", shortDuration(v), shortDuration(lo), shortDuration(hi))
		return old, false
	}
	return v, true
}

// shortDuration is d as a manifest would write it: 1h, 5m, 1m30s, not 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// stringList decodes a list of scalars.
func (d *decoder) stringList(n *yaml.Node, path string) ([]string, bool) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "found %s; want a list of strings such as [a, b]", describe(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, item := range n.Content {
		d.nodes[indexPath(path, i)] = item
		s, good := d.str(deref(item), indexPath(path, i))
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// words decodes a command: a list, or a string split the way a shell splits words.
func (d *decoder) words(n *yaml.Node, path string) ([]string, bool) {
	if n.Kind == yaml.SequenceNode {
		return d.stringList(n, path)
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "found %s; want a list such as [\"/app\", \"--flag\"] or a string such as \"/app --flag\"", describe(n))
		return nil, false
	}
	w, err := splitWords(n.Value)
	if err != nil {
		d.errorf(n, path, "%s cannot be split into words: %v; want a list such as [\"/app\", \"--flag\"]", describe(n), err)
		return nil, false
	}
	return w, true
}

// stringMap decodes a map of scalars; checkKey, when set, returns a message for a bad key.
func (d *decoder) stringMap(n *yaml.Node, path string, checkKey func(string) string) map[string]string {
	out := map[string]string{}
	d.pairs(n, path, "a map of names to values", func(k, v *yaml.Node, keyPath string) {
		d.nodes[keyPath] = v
		if checkKey != nil {
			if msg := checkKey(k.Value); msg != "" {
				d.errorf(k, keyPath, "%s", msg)
				return
			}
		}
		if s, ok := d.str(v, keyPath); ok {
			out[k.Value] = s
		}
	})
	return out
}
