package manifest

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// vars resolves ${VAR}: deck's own variables (DECK_APP, DECK_ENV, DECK_SERVICE) first, so
// a manifest can name itself the same way everywhere, then the caller's environment.
type vars struct {
	own    map[string]string
	lookup func(string) (string, bool)
}

func (v vars) get(name string) (string, bool) {
	if s, ok := v.own[name]; ok {
		return s, true
	}
	return v.lookup(name)
}

// with returns a copy with one more of deck's own variables set.
func (v vars) with(name, value string) vars {
	own := make(map[string]string, len(v.own)+1)
	for k, s := range v.own {
		own[k] = s
	}
	own[name] = value
	return vars{own: own, lookup: v.lookup}
}

// interpolate expands ${VAR} in every scalar value under n. Keys are left alone: a key says
// what its value means and must read the same in every environment. Documents are plain
// trees by now (see flatten): an alias is a copy, expanded in its own place.
func (d *decoder) interpolate(n *yaml.Node, path string, v vars) {
	d.expandTree(n, path, v, nil)
}

// interpolateMerged expands a service document after its override was merged in. merge
// shares nodes between its result and its inputs, so each node is expanded once, wherever
// it is reached first (expanding twice would undo $${).
func (d *decoder) interpolateMerged(n *yaml.Node, v vars) {
	d.expandTree(n, "", v, map[*yaml.Node]bool{})
}

// expandTree is interpolate; with seen non-nil it follows aliases and skips nodes in seen.
func (d *decoder) expandTree(n *yaml.Node, path string, v vars, seen map[*yaml.Node]bool) {
	if seen != nil {
		n = deref(n)
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
	}
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			p := path
			if n.Kind == yaml.SequenceNode {
				p = indexPath(path, i)
			}
			d.expandTree(c, p, v, seen)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.expandTree(n.Content[i+1], joinPath(path, n.Content[i].Value), v, seen)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		out, err := expand(n.Value, v)
		if err != nil {
			d.errorf(n, path, "%v", err)
			if d.failed == nil {
				d.failed = map[*yaml.Node]bool{}
			}
			d.failed[n] = true
			return
		}
		if out != n.Value && n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			// A plain scalar is typed by its text, so `count: ${COUNT}` is a number once
			// expanded; clearing the tag makes yaml.v3 resolve it again.
			n.Tag = ""
		}
		n.Value = out
	}
}

// expand replaces ${VAR} and ${VAR:-default} in s (the default may hold ${...} itself);
// $${ is a literal ${. A lone $ or $VAR
// without braces is left as is, since shell commands in manifests use them.
func expand(s string, v vars) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "$")
		if i < 0 || i+1 >= len(s) {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "$${"):
			b.WriteString("${")
			s = rest[3:]
		case strings.HasPrefix(rest, "${"):
			end := closingBrace(rest)
			if end < 0 {
				return "", fmt.Errorf("%s has a ${ that is not closed; want ${NAME} or ${NAME:-default} (write $${ for a literal ${)", quote(s))
			}
			expr := rest[2:end]
			name, def, hasDef := strings.Cut(expr, ":-")
			if !isVarName(name) {
				return "", fmt.Errorf("${%s} does not name a variable; want ${NAME} or ${NAME:-default} with NAME made of letters, digits and _", clip(expr))
			}
			val, ok := v.get(name)
			switch {
			case ok && (val != "" || !hasDef): // as in a shell, :- also replaces an empty value
				b.WriteString(val)
			case hasDef:
				// The default may hold variables too: ${DB_HOST:-${DEFAULT_DB_HOST:-localhost}}.
				d, err := expand(def, v)
				if err != nil {
					return "", err
				}
				b.WriteString(d)
			default:
				return "", fmt.Errorf("variable %s is not set; set it, or give a default with ${%s:-value}", name, name)
			}
			s = rest[end+1:]
		default:
			b.WriteString("$")
			s = rest[1:]
		}
	}
}

// closingBrace is the index of the } that closes the ${ at the start of s, past any ${...}
// (or literal $${...}) nested in a default; -1 when there is none.
func closingBrace(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			depth++
			i += 2
		case strings.HasPrefix(s[i:], "${"):
			depth++
			i++
		case s[i] == '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// isVarName reports whether s is a valid environment variable name.
func isVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
