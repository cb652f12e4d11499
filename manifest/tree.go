package manifest

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// aliasBudget bounds the nodes that aliases may add to a document, so a small file of
// aliases of aliases (a "billion laughs") cannot expand into gigabytes.
const aliasBudget = 100_000

// knownTags are the YAML tags deck reads. Others (!Ref, !Sub, !!python/object) mean
// something to another tool; deck would silently take their value as a plain string.
var knownTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true,
	"!!map": true, "!!seq": true, "!!merge": true, "!!timestamp": true, "!!binary": true,
}

// flattener copies a parsed document into a plain tree: every alias becomes a copy of the
// node it names and every merge key (<<: *base) is replaced by the keys it merges in. The
// decoder, the override merge and ${VAR} expansion then meet each node once, in its own
// place (an alias used in prod's override is expanded with DECK_ENV=prod), and the original
// tree is never modified, so it can be copied again for another environment.
type flattener struct {
	d      *decoder
	budget int
	// expanding holds the anchored nodes being copied, to catch an alias inside its own
	// anchor (yaml.v3 accepts one when parsing into nodes).
	expanding map[*yaml.Node]bool
	overrun   bool
}

// flatten returns a plain copy of n, reporting custom tags and bad merge keys to d.
func (d *decoder) flatten(n *yaml.Node) *yaml.Node {
	f := &flattener{d: d, budget: aliasBudget, expanding: map[*yaml.Node]bool{}}
	return f.copy(n, "", false)
}

func (f *flattener) copy(n *yaml.Node, path string, inAlias bool) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return f.alias(n, path)
	}
	if inAlias {
		if f.budget--; f.budget < 0 {
			if !f.overrun {
				f.d.errorf(n, path, "the document grows past %d values through aliases; use fewer aliases", aliasBudget)
				f.overrun = true
			}
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
		}
	}
	if n.Anchor != "" {
		f.expanding[n] = true
		defer delete(f.expanding, n)
	}
	out := *n
	out.Alias, out.Anchor = nil, ""
	if n.Tag != "" && n.Tag != "!" && !knownTags[n.ShortTag()] {
		f.d.errorf(n, path, "%s is a custom YAML tag, which deck does not read; remove it and write the value itself", clip(n.Tag))
		out.Tag = ""
	}
	switch n.Kind {
	case yaml.MappingNode:
		out.Content = f.mapping(n, path, inAlias)
	case yaml.SequenceNode, yaml.DocumentNode:
		out.Content = make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			p := path
			if n.Kind == yaml.SequenceNode {
				p = indexPath(path, i)
			}
			out.Content[i] = f.copy(c, p, inAlias)
		}
	}
	return &out
}

// alias copies the node an alias names.
func (f *flattener) alias(n *yaml.Node, path string) *yaml.Node {
	target := n.Alias
	if target == nil || f.expanding[target] {
		f.d.errorf(n, path, "alias *%s is used inside its own anchor, so its value would never end; use it after the anchored value instead", clip(n.Value))
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
	}
	return f.copy(target, path, true)
}

// mapping copies a map's pairs, replacing each merge key by the pairs it merges. As YAML's
// merge key defines: the map's own keys win over merged ones, and an earlier source wins
// over a later one.
func (f *flattener) mapping(n *yaml.Node, path string, inAlias bool) []*yaml.Node {
	own := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !isMergeKey(n.Content[i]) {
			own[n.Content[i].Value] = true
		}
	}
	merged := map[string]bool{}
	var out []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !isMergeKey(k) {
			out = append(out, f.copy(k, path, inAlias), f.copy(v, joinPath(path, k.Value), inAlias))
			continue
		}
		for _, src := range f.mergeSources(v, path, inAlias) {
			for j := 0; j+1 < len(src.Content); j += 2 {
				key := src.Content[j].Value
				if !own[key] && !merged[key] {
					merged[key] = true
					out = append(out, src.Content[j], src.Content[j+1])
				}
			}
		}
	}
	return out
}

// mergeSources returns plain copies of the maps a merge key names: one map, or a list of them.
func (f *flattener) mergeSources(v *yaml.Node, path string, inAlias bool) []*yaml.Node {
	const want = "want <<: *anchor, or <<: [*a, *b], naming anchored maps"
	c := f.copy(v, path, inAlias)
	var items []*yaml.Node
	switch c.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{c}
	case yaml.SequenceNode:
		items = c.Content
	default:
		f.d.errorf(v, joinPath(path, "<<"), "<< merges maps, and this is %s; %s", describe(c), want)
		return nil
	}
	var out []*yaml.Node
	for _, item := range items {
		if item.Kind != yaml.MappingNode {
			f.d.errorf(item, joinPath(path, "<<"), "<< merges maps, and this is %s; %s", describe(item), want)
			continue
		}
		out = append(out, item)
	}
	return out
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge"
}

// copyTree copies a plain tree (one without aliases), so ${VAR} expansion, which writes
// into nodes, leaves the original for the next environment.
func copyTree(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	out := *n
	if n.Content != nil {
		out.Content = make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			out.Content[i] = copyTree(c)
		}
	}
	return &out
}

// dropExtensions removes a document's top-level keys that begin with x-: Compose's extension
// fields, where a team keeps the anchors its manifest merges in (x-defaults: &defaults). They
// have been copied into their places by flatten, so what is left is no setting of deck's and
// is neither decoded nor expanded (an unset ${VAR} in one is no error). Keys below the top
// level are checked as ever: an x- key there is a typo more often than an extension.
func dropExtensions(root *yaml.Node) {
	if root == nil || root.Kind != yaml.MappingNode {
		return
	}
	kept := root.Content[:0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Kind == yaml.ScalarNode && strings.HasPrefix(k.Value, "x-") {
			continue
		}
		kept = append(kept, root.Content[i], root.Content[i+1])
	}
	root.Content = kept
}
