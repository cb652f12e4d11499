package manifest

import (
	"slices"

	"gopkg.in/yaml.v3"
)

// exclusiveKeys are keys of which a document holds one; an override that sets one drops the
// others from the base, so prod can use a prebuilt image.location over the base's image.build.
var exclusiveKeys = map[string][]string{
	"image":       {"build", "location"},
	"healthcheck": {"path", "command"},
}

// wholeKeys are maps an override replaces as a whole instead of merging into. Constraints
// only ever narrow the hosts, so merging them would let prod add one but never lift or
// change one of the base's (base zone: a, prod wants any zone).
var wholeKeys = map[string]bool{
	"placement.constraints": true,
}

// merge deep-merges over onto base: maps merge key by key (except wholeKeys), anything else
// (lists, scalars, a map meeting a scalar) is replaced by over. Neither input is modified;
// nodes of over are reused as they are, so errors about them keep the override's position.
func merge(base, over *yaml.Node, path string) *yaml.Node {
	base, over = deref(base), deref(over)
	if base.Kind != yaml.MappingNode || over.Kind != yaml.MappingNode || wholeKeys[path] {
		return over
	}
	out := *base
	out.Content = nil
	drop := map[string]bool{}
	for i := 0; i+1 < len(over.Content); i += 2 {
		key := over.Content[i].Value
		for _, ex := range exclusiveKeys[path] {
			if ex != key && slices.Contains(exclusiveKeys[path], key) {
				drop[ex] = true
			}
		}
	}
	for i := 0; i+1 < len(base.Content); i += 2 {
		if !drop[base.Content[i].Value] {
			out.Content = append(out.Content, base.Content[i], base.Content[i+1])
		}
	}
	for i := 0; i+1 < len(over.Content); i += 2 {
		k, v := over.Content[i], over.Content[i+1]
		if j := keyIndex(&out, k.Value); j >= 0 {
			out.Content[j+1] = merge(out.Content[j+1], v, joinPath(path, k.Value))
			continue
		}
		out.Content = append(out.Content, k, v)
	}
	return &out
}

// keyIndex returns the index of key's key node in map n, or -1.
func keyIndex(n *yaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// lookupKey returns the value of key in map n, or nil.
func lookupKey(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	if i := keyIndex(n, key); i >= 0 {
		return deref(n.Content[i+1])
	}
	return nil
}

// markAll records n and everything under it in set.
func markAll(n *yaml.Node, set map[*yaml.Node]bool) {
	set[n] = true
	for _, c := range n.Content {
		markAll(c, set)
	}
}
