package planner

import "strings"

// rankTree orders a service's feasible hosts for placement without scanning them: one
// level per spread_by attribute (a node per attribute value) and hosts as leaves. Every
// node keeps its children in a min-heap, so the best host is found by walking down the
// first child of each level, and a placement updates only the heaps on its path.
//
// Internal nodes order by (tasks of the service in the group, value): the group with the
// fewest tasks goes first, so tasks balance across values of the first attribute, then
// across values of the next within it. Leaves order by the strategy: spread by (tasks on
// the host, name), binpack by (free memory, free cpu, name), so hosts fill up in turn.
type rankTree struct {
	root    *rankNode
	binpack bool
	c       *cluster
	groups  map[string]*rankNode // by path key
}

type rankNode struct {
	key    string
	count  int // tasks of the service in the group, or on the host
	parent *rankNode
	kids   []*rankNode // a min-heap
	idx    int         // position in parent.kids; -1 while out of the heap
	cand   *candidate  // set on leaves
	tree   *rankTree
}

// candidate is a host that passed the service's static filters.
type candidate struct {
	slot  int // index in the cluster
	leaf  *rankNode
	out   bool // removed from the tree because it does not fit now
	gone  bool // removed for good (distinct_host)
	aside bool // removed while other hosts fit (placer.avoided)
	count int  // tasks of the service on the host: kept and placed
}

func newRankTree(c *cluster, binpack bool) *rankTree {
	t := &rankTree{binpack: binpack, c: c, groups: map[string]*rankNode{}}
	t.root = &rankNode{idx: -1, tree: t}
	return t
}

// insert adds a host under the group path of its attribute values. groupCount gives the
// tasks of the service already in a group (by its path key).
func (t *rankTree) insert(cand *candidate, path []string, groupCount func(key string) int) {
	n := t.root
	key := ""
	for _, v := range path {
		key += v + "\x00"
		child := t.groups[key]
		if child == nil {
			child = &rankNode{key: v, count: groupCount(key), parent: n, idx: -1, tree: t}
			t.groups[key] = child
			n.push(child)
		}
		n = child
	}
	leaf := &rankNode{key: t.c.hosts[cand.slot].Name, count: cand.count, parent: n, idx: -1, cand: cand, tree: t}
	cand.leaf = leaf
	n.push(leaf)
}

// best returns the host to place on next, or nil when no host is left.
func (t *rankTree) best() *candidate {
	n := t.root
	for n.cand == nil {
		if len(n.kids) == 0 {
			return nil
		}
		n = n.kids[0]
	}
	return n.cand
}

// remove takes a host out; groups left empty leave their parents too.
func (t *rankTree) remove(c *candidate) {
	n := c.leaf
	for n != t.root && n.idx >= 0 {
		p := n.parent
		p.removeAt(n.idx)
		if len(p.kids) > 0 {
			return
		}
		n = p
	}
}

// add puts a host back, with the groups on its path.
func (t *rankTree) add(c *candidate) {
	n := c.leaf
	for n != t.root && n.idx < 0 {
		n.parent.push(n)
		n = n.parent
	}
}

// placed records one more task on a host: counts go up along its path.
func (t *rankTree) placed(c *candidate) {
	for n := c.leaf; n != t.root; n = n.parent {
		n.count++
		if n.idx >= 0 {
			n.parent.fix(n.idx)
		}
	}
}

// freed re-sorts a host whose free resources changed (binpack ranks by them).
func (t *rankTree) freed(c *candidate) {
	if t.binpack && c.leaf.idx >= 0 {
		c.leaf.parent.fix(c.leaf.idx)
	}
}

func (t *rankTree) less(a, b *rankNode) bool {
	if a.cand != nil && b.cand != nil && t.binpack {
		fa, fb := t.c.free[a.cand.slot], t.c.free[b.cand.slot]
		if fa.Memory != fb.Memory {
			return fa.Memory < fb.Memory
		}
		if fa.CPU != fb.CPU {
			return fa.CPU < fb.CPU
		}
		return a.key < b.key
	}
	if a.count != b.count {
		return a.count < b.count
	}
	return strings.Compare(a.key, b.key) < 0
}

// The heap operations below are container/heap's, specialised to keep idx current.

func (n *rankNode) push(k *rankNode) {
	k.idx = len(n.kids)
	n.kids = append(n.kids, k)
	n.up(k.idx)
}

func (n *rankNode) removeAt(i int) {
	last := len(n.kids) - 1
	removed := n.kids[i]
	if i != last {
		n.swap(i, last)
	}
	n.kids = n.kids[:last]
	removed.idx = -1
	if i != last {
		n.fix(i)
	}
}

func (n *rankNode) fix(i int) {
	if !n.down(i) {
		n.up(i)
	}
}

func (n *rankNode) swap(i, j int) {
	n.kids[i], n.kids[j] = n.kids[j], n.kids[i]
	n.kids[i].idx = i
	n.kids[j].idx = j
}

func (n *rankNode) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !n.tree.less(n.kids[j], n.kids[i]) {
			break
		}
		n.swap(i, j)
		j = i
	}
}

func (n *rankNode) down(i0 int) bool {
	i, size := i0, len(n.kids)
	for {
		j := 2*i + 1
		if j >= size {
			break
		}
		if r := j + 1; r < size && n.tree.less(n.kids[r], n.kids[j]) {
			j = r
		}
		if !n.tree.less(n.kids[j], n.kids[i]) {
			break
		}
		n.swap(i, j)
		i = j
	}
	return i > i0
}
